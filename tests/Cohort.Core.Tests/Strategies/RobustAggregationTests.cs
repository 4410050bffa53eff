using Cohort.Strategies;
using static Cohort.Tests.Strategies.StrategyTestKit;

namespace Cohort.Tests.Strategies;

/// <summary>FedMedian, FedTrimmedAvg, Krum / Multi-Krum and Bulyan.</summary>
public sealed class RobustAggregationTests
{
    [Fact]
    public void FedMedian_takes_the_median_of_each_coordinate_ignoring_example_counts()
    {
        var x = Aggregate(new FedMedian(Params()), Model(0, 0), Fit([1, 10], 1), Fit([2, -5], 1), Fit([100, 0], 1000));
        Near([2f, 0f], Values(x));
    }

    [Fact]
    public void FedMedian_of_an_even_count_is_the_mean_of_the_middle_two()
    {
        var x = Aggregate(new FedMedian(Params()), Model(0), Fit([1]), Fit([2]), Fit([4]), Fit([100]));
        Near([3f], Values(x));
    }

    [Fact]
    public void FedMedian_refuses_results_beyond_its_memory_limit()
    {
        using var aggregation = new FedMedian(Params(("memory_limit_mb", 1))).BeginAggregateFit(Round(), Model(new float[200_000]));
        aggregation.Add("a", Fit(new float[200_000]));
        var e = Assert.Throws<AggregationException>(() => aggregation.Add("b", Fit(new float[200_000])));
        Assert.Contains("memory_limit_mb", e.Message);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(10)]
    public void Vectorised_median_and_trimmed_mean_equal_a_per_coordinate_sort(int results)
    {
        // 1003 coordinates: whole SIMD vectors plus a scalar tail in every tile.
        var random = new Random(5);
        var fits = Enumerable.Range(0, results).Select(_ => Fit(Enumerable.Range(0, 1003).Select(_ => (float)random.NextDouble() * 10 - 5).ToArray())).ToArray();
        var median = Values(Aggregate(new FedMedian(Params()), Model(new float[1003]), fits));
        var trimmed = Values(Aggregate(new FedTrimmedAvg(Params(("beta", 0.2))), Model(new float[1003]), fits));
        int trim = (int)Math.Floor(0.2 * results);
        for (int j = 0; j < 1003; j++)
        {
            var column = fits.Select(f => (double)f.Parameters[0].AsFloat32()[j]).Order().ToArray();
            double expectedMedian = results % 2 == 1 ? column[results / 2] : (column[results / 2 - 1] + column[results / 2]) / 2;
            Near((float)expectedMedian, median[j]);
            Near((float)column[trim..^trim].Average(), trimmed[j], 1e-4f);
        }
    }

    [Fact]
    public void FedTrimmedAvg_drops_beta_n_values_from_each_end()
    {
        // β = 0.2 of 5 results trims one each side: mean(2,3,4) = 3 and mean(−1,0,1) = 0.
        var x = Aggregate(new FedTrimmedAvg(Params(("beta", 0.2))), Model(0, 0),
            Fit([1, -50]), Fit([2, 0]), Fit([100, 1]), Fit([3, -1]), Fit([4, 9]));
        Near([3f, 0f], Values(x));
    }

    [Fact]
    public void Krum_picks_the_update_closest_to_its_neighbours()
    {
        // f = 0: score = squared distances to the 2 nearest. 0 → 1+9, 1 → 1+4, 3 → 4+9, 100 → 97²+99².
        var x = Aggregate(new Krum(Params(("byzantine", 0))), Model(0), Fit([0]), Fit([1]), Fit([3]), Fit([100]));
        Near([1f], Values(x));
    }

    [Fact]
    public void MultiKrum_averages_the_m_best_scored_updates()
    {
        var x = Aggregate(new Krum(Params(("byzantine", 0), ("keep", 2))), Model(0), Fit([0]), Fit([1]), Fit([3]), Fit([100]));
        Near([0.5f], Values(x));
    }

    [Fact]
    public void Krum_needs_more_than_2f_plus_2_results()
    {
        var e = Assert.Throws<AggregationException>(() => Aggregate(new Krum(Params(("byzantine", 1))), Model(0), Fit([0]), Fit([1]), Fit([2])));
        Assert.Contains("2f + 2", e.Message);
    }

    [Fact]
    public void Bulyan_selects_by_repeated_Krum_then_averages_the_values_closest_to_the_median()
    {
        // n = 7, f = 1: θ = 5 chosen by Krum in the order 2, 3, 1, 4, 0 (1000 never), β = 3 closest to
        // the median 2 of {0,1,2,3,4}: mean(1,2,3) = 2.
        var x = Aggregate(new Bulyan(Params(("byzantine", 1))), Model(0),
            Fit([0]), Fit([1]), Fit([2]), Fit([3]), Fit([4]), Fit([5]), Fit([1000]));
        Near([2f], Values(x));
    }

    [Fact]
    public void Vectorised_closest_to_median_mean_equals_the_per_coordinate_window()
    {
        var random = new Random(9);
        var sets = Enumerable.Range(0, 9).Select(_ => Model(Enumerable.Range(0, 1003).Select(_ => (float)random.NextDouble() * 10 - 5).ToArray())).ToArray();
        var scalar = Values(CoordinateWise.Reduce(sets, sorted => CoordinateWise.ClosestToMedianMean(sorted, 5)));
        var lanes = Values(CoordinateWise.Reduce(sets, sorted => CoordinateWise.ClosestToMedianMean(sorted, 5), sorted => CoordinateWise.ClosestToMedianMeanLanes(sorted, 5)));
        Near(scalar, lanes, 1e-4f);
    }

    [Fact]
    public void Bulyan_needs_4f_plus_3_results()
    {
        var e = Assert.Throws<AggregationException>(() => Aggregate(new Bulyan(Params(("byzantine", 1))), Model(0),
            Fit([0]), Fit([1]), Fit([2]), Fit([3]), Fit([4]), Fit([5])));
        Assert.Contains("4f + 3", e.Message);
    }
}
