using Cohort.Learning.Metrics;

namespace Cohort.Learning.Tests.Metrics;

public sealed class BinaryMetricsTests
{
    [Fact]
    public void Average_precision_matches_scikit_learns_documented_example()
    {
        // average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.8333: ½·1 at 0.8, then ½·⅔ at 0.35.
        Assert.Equal(5.0 / 6, BinaryMetrics.AveragePrecision([0.1f, 0.4f, 0.35f, 0.8f], [0, 0, 1, 1]), 1e-12);
    }

    [Fact]
    public void Average_precision_treats_tied_scores_as_one_threshold()
    {
        // One positive and one negative tied at the top: recall 1 reached at precision ½.
        Assert.Equal(0.5, BinaryMetrics.AveragePrecision([0.9f, 0.9f, 0.1f], [1, 0, 0]), 1e-12);
        Assert.True(double.IsNaN(BinaryMetrics.AveragePrecision([0.2f, 0.7f], [0, 0])));
    }

    [Fact]
    public void Confusion_counts_rows_above_the_threshold_as_positive()
    {
        var c = BinaryMetrics.Confusion([0.9f, 0.6f, 0.4f, 0.2f, 0.7f], [1, 0, 1, 0, 1], 0.5);
        Assert.Equal(new Cohort.Evaluation.ConfusionCounts(2, 1, 1, 1), c);
        Assert.Equal(2.0 / 3, c.Precision, 1e-12);
        Assert.Equal(2.0 / 3, c.Recall, 1e-12);
        Assert.Equal(2.0 / 3, c.F1, 1e-12);
        Assert.Equal((2.0 / 3 + 1.0 / 2) / 2, c.BalancedAccuracy, 1e-12);
        Assert.Equal(new Cohort.Evaluation.ConfusionCounts(1, 0, 2, 2), BinaryMetrics.Confusion([0.9f, 0.6f, 0.4f, 0.2f, 0.7f], [1, 0, 1, 0, 1], 0.8));
    }

    [Fact]
    public void Auc_counts_correctly_ordered_positive_negative_pairs()
    {
        // Pairs (pos, neg): (0.35, 0.1) ✓, (0.35, 0.4) ✗, (0.8, 0.1) ✓, (0.8, 0.4) ✓ → 3/4.
        Assert.Equal(0.75, BinaryMetrics.RocAuc([0.1f, 0.4f, 0.35f, 0.8f], [0, 0, 1, 1]), 1e-12);
    }

    [Fact]
    public void Auc_counts_a_tied_pair_as_one_half()
    {
        // Pairs: (0.5 vs 0.1) 1, (0.5 vs 0.5) ½, (0.9 vs 0.1) 1, (0.9 vs 0.5) 1 → 3.5/4.
        Assert.Equal(0.875, BinaryMetrics.RocAuc([0.1f, 0.5f, 0.5f, 0.9f], [0, 1, 0, 1]), 1e-12);
    }

    [Fact]
    public void Auc_of_constant_scores_is_one_half()
    {
        Assert.Equal(0.5, BinaryMetrics.RocAuc([0.3f, 0.3f, 0.3f, 0.3f, 0.3f], [1, 0, 1, 0, 0]), 1e-12);
    }

    [Fact]
    public void Auc_of_perfectly_reversed_scores_is_zero()
    {
        Assert.Equal(0.0, BinaryMetrics.RocAuc([0.9f, 0.8f, 0.2f, 0.1f], [0, 0, 1, 1]), 1e-12);
    }

    [Fact]
    public void Auc_is_undefined_with_a_single_class()
    {
        Assert.True(double.IsNaN(BinaryMetrics.RocAuc([0.2f, 0.7f], [1, 1])));
    }

    [Fact]
    public void Accuracy_counts_a_probability_of_exactly_one_half_as_negative()
    {
        Assert.Equal(0.75, BinaryMetrics.Accuracy([0.5f, 0.51f, 0.2f, 0.9f], [0, 1, 1, 1]), 1e-12);
    }

    [Fact]
    public void Loss_is_mean_cross_entropy_with_logs_clamped_at_minus_100()
    {
        Assert.Equal(-Math.Log(0.8f), BinaryMetrics.Loss([0.8f], [1]), 1e-7);
        Assert.Equal((-Math.Log(0.8f) + 100) / 2, BinaryMetrics.Loss([0.8f, 1f], [1, 0]), 1e-7);
    }
}
