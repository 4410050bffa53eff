using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Privacy;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Privacy;

public sealed class LocalDifferentialPrivacyTests
{
    /// <summary>An app whose fit moves every value by a fixed step.</summary>
    private sealed class StepApp(float step) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => throw new NotSupportedException();

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            var moved = parameters.Clone();
            foreach (ref var v in moved[0].AsFloat32()) v += step;
            return Task.FromResult(new FitResult(moved, 5, Metrics.Empty));
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) => throw new NotSupportedException();
    }

    private static Config Dp(double clip, double sigma) => new([
        new(LocalDifferentialPrivacy.ClippingNormKey, clip), new(LocalDifferentialPrivacy.NoiseMultiplierKey, sigma)]);

    [Fact]
    public async Task Without_the_privacy_keys_a_fit_passes_through_untouched()
    {
        var sent = new ParameterSet([Tensor.FromFloat32("w", [2], [1f, 2f])]);
        var result = await new LocalDifferentialPrivacy(new StepApp(1)).FitAsync(sent, Config.Empty, default);

        Assert.Equal([2f, 3f], result.Parameters[0].AsFloat32().ToArray());
        Assert.False(result.Metrics.ContainsKey("dp_clipped"));
    }

    [Fact]
    public async Task The_update_is_clipped_to_the_norm_before_it_leaves_the_node()
    {
        // Step 3 on four values: update norm 6, clipped to 1.5 → each value moves 0.75.
        var sent = new ParameterSet([Tensor.FromFloat32("w", [4], [0f, 0f, 0f, 0f])]);
        var result = await new LocalDifferentialPrivacy(new StepApp(3)).FitAsync(sent, Dp(1.5, 0), default);

        Assert.All(result.Parameters[0].AsFloat32().ToArray(), v => Assert.Equal(0.75f, v, 5));
        Assert.Equal(1.0, result.Metrics["dp_clipped"].AsDouble());
        Assert.Equal(5, result.Examples);
    }

    [Fact]
    public async Task Every_released_value_carries_noise_of_standard_deviation_sigma_times_c()
    {
        const int N = 1 << 19;
        var sent = new ParameterSet([Tensor.Zeros("w", DType.Float32, [N])]);
        var result = await new LocalDifferentialPrivacy(new StepApp(0), seed: 3).FitAsync(sent, Dp(0.5, 2.0), default);

        var w = result.Parameters[0].AsFloat32();
        double square = 0;
        foreach (float v in w) square += (double)v * v;
        Assert.InRange(Math.Sqrt(square / N), 0.99, 1.01);
        Assert.Equal(1.0, result.Metrics["dp_noise_std"].AsDouble(), 9);
        Assert.Equal(PrivacyAccountant.Epsilon(1, 2.0, 1e-5), result.Metrics["dp_epsilon"].AsDouble(), 9);
    }

    [Fact]
    public void A_local_privacy_plan_sends_the_clipping_and_noise_to_the_nodes_and_keeps_the_server_strategy_plain()
    {
        var plan = PlanParser.Parse("name: t\napp:\n  name: tabular\nstrategy:\n  name: fedavg\nprivacy:\n  mode: local\n  clipping_norm: 0.3\n  noise_multiplier: 0.7\n",
            "p.yaml", StrategyRegistry.CreateDefault());

        Assert.True(plan.Privacy!.Local);
        // The settings travel typed beside the app's config, which stays free of them.
        Assert.Equal(new Cohort.Clients.LocalPrivacySettings(0.3, 0.7, 1e-5), plan.TaskSettings.LocalPrivacy);
        Assert.False(plan.FitConfig(1).ContainsKey(LocalDifferentialPrivacy.ClippingNormKey));
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp:\n  name: tabular\nstrategy:\n  name: fedavg\nprivacy:\n  mode: global\n  clipping_norm: 1\n  noise_multiplier: 1\n",
            "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Contains("central, local", e.Message);
    }
}
