using System.Numerics.Tensors;
using Cohort.Cli.Commands;
using Xunit.Abstractions;

namespace Cohort.Simulation.Tests;

/// <summary>
/// A few cells of <c>cohort bench byzantine</c> (seed 1) that must hold: robust rules stop the attack any
/// of them catches, and attacks designed against robust rules get through them on non-IID data.
/// </summary>
public sealed class ByzantineBenchTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_large_norm_attack_collapses_fedavg_while_the_median_keeps_the_clean_accuracy()
    {
        double clean = await CellAsync("fedavg", "none", nonIid: false);
        double fedavg = await CellAsync("fedavg", "large-norm", nonIid: false);
        double median = await CellAsync("fedmedian", "large-norm", nonIid: false);

        Assert.True(fedavg < 0.5, $"FedAvg under a large-norm attack kept {fedavg:F4}");
        Assert.True(median >= clean - 0.02, $"FedMedian under a large-norm attack {median:F4}, clean FedAvg {clean:F4}");
    }

    [Theory]
    [InlineData("krum", "min-max")]
    [InlineData("bulyan", "ipm")]
    public async Task An_attack_designed_against_robust_rules_costs_them_more_than_five_points_on_non_iid_data(string rule, string attack)
    {
        double clean = await CellAsync(rule, "none", nonIid: true);
        double attacked = await CellAsync(rule, attack, nonIid: true);

        Assert.True(attacked < clean - 0.05, $"{rule} under {attack}: {attacked:F4}, clean {clean:F4}");
    }

    [Fact]
    public async Task Alie_measurably_lowers_the_medians_accuracy_on_non_iid_data()
    {
        double clean = await CellAsync("fedmedian", "none", nonIid: true);
        double attacked = await CellAsync("fedmedian", "alie", nonIid: true);

        Assert.True(attacked < clean - 0.01, $"FedMedian under ALIE: {attacked:F4}, clean {clean:F4}");
    }

    [Fact]
    public void Alies_z_for_4_attackers_among_20_is_the_normal_quantile_of_13_of_20()
    {
        // s = ⌊20/2 + 1⌋ − 4 = 7 honest supporters needed; z = Φ⁻¹(13/20) ≈ 0.3853.
        Assert.Equal(0.3853, ByzantineAttacks.InverseNormal(0.65), 3);
        Assert.Equal(0, ByzantineAttacks.InverseNormal(0.5), 6);
    }

    [Fact]
    public void Min_max_moves_away_from_the_mean_yet_stays_no_farther_from_any_honest_update_than_the_honest_ones_are_from_each_other()
    {
        var random = new Random(3);
        var honest = Enumerable.Range(0, 16).Select(_ => Enumerable.Range(0, 10).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
        double bound = honest.Max(a => honest.Max(b => TensorPrimitives.Distance(a, b)));

        var crafted = ByzantineAttacks.Craft("min-max", honest, 20, 4);

        double farthest = honest.Max(h => TensorPrimitives.Distance(crafted, h));
        var mean = new float[10];
        foreach (var h in honest) TensorPrimitives.Add(mean, h, mean);
        TensorPrimitives.Multiply(mean, 1f / honest.Length, mean);
        Assert.True(farthest <= bound * (1 + 1e-5), $"farthest {farthest} > bound {bound}");
        Assert.True(farthest >= bound * 0.99, $"farthest {farthest}: the largest γ was not found (bound {bound})");
        Assert.True(TensorPrimitives.Distance(crafted, mean) > 0.1);
    }

    private async Task<double> CellAsync(string rule, string attack, bool nonIid)
    {
        double accuracy = await ByzantineBench.AccuracyAsync(rule, attack, nonIid, seed: 1);
        output.WriteLine($"{rule} {attack} {(nonIid ? "non-IID" : "IID")}: {accuracy:F4}");
        return accuracy;
    }
}
