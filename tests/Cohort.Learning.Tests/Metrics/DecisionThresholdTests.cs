using Cohort.Learning.Metrics;

namespace Cohort.Learning.Tests.Metrics;

public sealed class DecisionThresholdTests
{
    private static readonly float[] P = [0.05f, 0.1f, 0.2f, 0.3f, 0.35f, 0.6f, 0.7f, 0.9f];
    private static readonly float[] Y = [0, 0, 1, 0, 1, 0, 1, 1];

    [Fact]
    public void Max_f1_cuts_between_the_scores_where_f1_peaks()
    {
        // F1 = 2tp/(tp+fp+4) from the top: {0.9} 2/5, +0.7 4/6, +0.6 4/7, +0.35 6/8, +0.3 6/9, +0.2 8/10 (best), +0.1 8/11.
        double t = DecisionThreshold.Parse("max_f1").Choose(P, Y);
        Assert.Equal((0.1 + 0.2) / 2, t, 6);
        Assert.Equal(0.8, BinaryMetrics.Confusion(P, Y, t).F1, 12);
    }

    [Fact]
    public void A_recall_target_takes_the_highest_cut_that_reaches_it()
    {
        Assert.Equal((0.6 + 0.7) / 2, DecisionThreshold.Parse("recall:0.5").Choose(P, Y), 6);
        Assert.Equal((0.3 + 0.35) / 2, DecisionThreshold.Parse("recall:0.75").Choose(P, Y), 6);
        Assert.True(BinaryMetrics.Confusion(P, Y, DecisionThreshold.Parse("recall:1").Choose(P, Y)).Recall >= 1);
    }

    [Fact]
    public void A_fixed_threshold_is_kept_and_bad_rules_are_refused()
    {
        Assert.Equal(0.3, DecisionThreshold.Parse("0.3").Choose(P, Y));
        Assert.Equal(0.5, DecisionThreshold.Parse("max_f1").Choose([0.2f, 0.9f], [0, 0]));
        Assert.Throws<FormatException>(() => DecisionThreshold.Parse("1.5"));
        Assert.Throws<FormatException>(() => DecisionThreshold.Parse("recall:0"));
        Assert.Throws<FormatException>(() => DecisionThreshold.Parse("best"));
    }
}
