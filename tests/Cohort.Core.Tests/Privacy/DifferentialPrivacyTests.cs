using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Privacy;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Privacy;

public sealed class DifferentialPrivacyTests
{
    private static readonly RoundContext Round = new("r", 1, 1, new Selection(), Config.Empty, Config.Empty, new Random(1));

    private static ParameterSet Model(params float[] values) => new([Tensor.FromFloat32("w", [values.Length], values)]);

    [Fact]
    public void Updates_longer_than_the_clipping_norm_are_scaled_to_it_and_shorter_ones_are_left_alone()
    {
        var global = Model(1, 1);
        var dp = new DifferentialPrivacy(new FedAvg(), new DifferentialPrivacyOptions(ClippingNorm: 1.0, NoiseMultiplier: 0));
        using var aggregation = dp.BeginAggregateFit(Round, global);
        var far = Model(4, 5);   // update (3, 4), norm 5 → clipped to (0.6, 0.8)
        var near = Model(1.3f, 1); // update (0.3, 0), norm 0.3 → unchanged
        aggregation.Add("far", new FitResult(far, 1, Metrics.Empty));
        aggregation.Add("near", new FitResult(near, 1, Metrics.Empty));
        var result = aggregation.Complete([]);

        // Mean of (1.6, 1.8) and (1.3, 1): (1.45, 1.4).
        Assert.Equal(1.45f, result.Parameters[0].AsFloat32()[0], 5);
        Assert.Equal(1.4f, result.Parameters[0].AsFloat32()[1], 5);
        Assert.Equal(0.5, result.Metrics["dp_clipped_fraction"].AsDouble());
        // The node's own buffers were not rewritten.
        Assert.Equal([4f, 5f], far[0].AsFloat32().ToArray());
    }

    [Fact]
    public void Noise_on_the_aggregate_has_standard_deviation_sigma_times_c_over_the_number_of_results()
    {
        const int N = 1 << 20;
        var global = new ParameterSet([Tensor.Zeros("w", DType.Float32, [N])]);
        var dp = new DifferentialPrivacy(new FedAvg(), new DifferentialPrivacyOptions(ClippingNorm: 2.0, NoiseMultiplier: 1.5, Seed: 7));
        using var aggregation = dp.BeginAggregateFit(Round, global);
        for (int i = 0; i < 4; i++) aggregation.Add($"n{i}", new FitResult(global.Clone(), 1, Metrics.Empty));
        var w = aggregation.Complete([]).Parameters[0].AsFloat32();

        double mean = 0, square = 0;
        foreach (float v in w)
        {
            mean += v;
            square += (double)v * v;
        }
        mean /= N;
        double std = Math.Sqrt(square / N - mean * mean);
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(std, 0.75 * 0.99, 0.75 * 1.01); // 1.5 · 2 / 4
    }

    [Fact]
    public void Epsilon_follows_the_renyi_bound_and_grows_with_rounds_and_shrinks_with_noise()
    {
        // One release at σ = 1, δ = 1e-5: min over α of α/2 + ln(1e5)/(α − 1) ≈ 5.298.
        Assert.Equal(5.298, PrivacyAccountant.Epsilon(1, 1.0, 1e-5), 2);
        Assert.True(PrivacyAccountant.Epsilon(10, 1.0, 1e-5) > PrivacyAccountant.Epsilon(5, 1.0, 1e-5));
        Assert.True(PrivacyAccountant.Epsilon(10, 2.0, 1e-5) < PrivacyAccountant.Epsilon(10, 1.0, 1e-5));
        Assert.Equal(double.PositiveInfinity, PrivacyAccountant.Epsilon(3, 0, 1e-5));
    }

    [Fact]
    public void Round_metrics_report_the_privacy_spent_so_far()
    {
        var global = Model(0, 0);
        var dp = new DifferentialPrivacy(new FedAvg(), new DifferentialPrivacyOptions(1.0, 1.0, Seed: 1));
        double previous = 0;
        for (int r = 1; r <= 3; r++)
        {
            using var aggregation = dp.BeginAggregateFit(Round, global);
            aggregation.Add("a", new FitResult(Model(0.1f, 0), 1, Metrics.Empty));
            double epsilon = aggregation.Complete([]).Metrics["dp_epsilon"].AsDouble();
            Assert.Equal(PrivacyAccountant.Epsilon(r, 1.0, 1e-5), epsilon, 9);
            Assert.True(epsilon > previous);
            previous = epsilon;
        }
    }
}
