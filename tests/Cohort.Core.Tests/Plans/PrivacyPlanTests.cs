using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Tests.Plans;

public sealed class PrivacyPlanTests
{
    private const string Minimal = "name: t\napp:\n  name: tabular\nstrategy:\n  name: fedavg\n";

    private static Plan Parse(string extra) => PlanParser.Parse(Minimal + extra, "p.yaml", StrategyRegistry.CreateDefault());

    [Fact]
    public void A_privacy_section_gives_clipping_noise_and_delta()
    {
        var plan = Parse("privacy:\n  clipping_norm: 0.5\n  noise_multiplier: 1.1\n");

        Assert.Equal(0.5, plan.Privacy!.ClippingNorm);
        Assert.Equal(1.1, plan.Privacy.NoiseMultiplier);
        Assert.Equal(1e-5, plan.Privacy.Delta);
        Assert.Null(Parse("rounds: 2\n").Privacy);
    }

    [Fact]
    public void A_privacy_section_without_a_clipping_norm_is_refused_at_its_line()
    {
        var e = Assert.Throws<PlanException>(() => Parse("privacy:\n  noise_multiplier: 1.0\n"));

        Assert.Equal(7, e.Line);
        Assert.Contains("clipping_norm", e.Message);
    }

    [Fact]
    public void A_negative_noise_multiplier_and_privacy_with_asynchronous_training_are_refused()
    {
        Assert.Contains("noise_multiplier", Assert.Throws<PlanException>(() => Parse("privacy:\n  clipping_norm: 1\n  noise_multiplier: -1\n")).Message);
        var e = Assert.Throws<PlanException>(() => Parse("privacy:\n  clipping_norm: 1\n  noise_multiplier: 1\nasynchronous:\n  buffer_size: 2\n"));
        Assert.Contains("privacy: not supported with asynchronous training", e.Message);
    }
}
