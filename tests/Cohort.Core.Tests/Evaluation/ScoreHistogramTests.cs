using Cohort.Evaluation;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Core.Tests.Evaluation;

public sealed class ScoreHistogramTests
{
    // Three sites with different score distributions and positive rates, as an imbalanced federation has.
    private static (float[] Logits, float[] Labels)[] Sites()
    {
        var random = new Random(7);
        var sites = new (float[], float[])[3];
        (int Rows, double Rate, double Shift)[] shapes = [(900, 0.03, 0.0), (1500, 0.06, -1.5), (600, 0.10, 1.0)];
        for (int s = 0; s < 3; s++)
        {
            var (rows, rate, shift) = shapes[s];
            var z = new float[rows];
            var y = new float[rows];
            for (int i = 0; i < rows; i++)
            {
                y[i] = random.NextDouble() < rate ? 1 : 0;
                z[i] = (float)(shift - 3 + 2.5 * y[i] + 1.3 * Gaussian(random));
            }
            sites[s] = (z, y);
        }
        return sites;
    }

    [Fact]
    public void Pooled_auc_and_average_precision_from_site_histograms_match_the_pooled_rows_within_the_bin_resolution()
    {
        var sites = Sites();
        var pooled = new ScoreHistogram();
        foreach (var (z, y) in sites)
        {
            var h = new ScoreHistogram();
            h.AddAll(z, y);
            pooled.Merge(h);
        }
        var allZ = sites.SelectMany(s => s.Logits).ToArray();
        var allY = sites.SelectMany(s => s.Labels).ToArray();
        double exactAuc = ExactAuc(allZ, allY);
        double bound = pooled.RocAucTieError();
        Assert.InRange(bound, 0, 0.01);
        Assert.InRange(pooled.RocAuc() - exactAuc, -bound, bound);

        // Average precision of the same rows with each score rounded to its bin is exactly the histogram's.
        var binned = allZ.Select(z => (float)ScoreHistogram.BinOf(z)).ToArray();
        Assert.Equal(ExactAveragePrecision(binned, allY), pooled.AveragePrecision(), 1e-12);
        Assert.InRange(pooled.AveragePrecision() - ExactAveragePrecision(allZ, allY), -0.02, 0.02);
        // And it is not the mean of the sites' values: pooling is a different figure.
        Assert.Equal(allY.Count(y => y > 0), pooled.Positives);
    }

    [Fact]
    public void A_histogram_survives_its_metric_encoding_and_a_foreign_layout_is_ignored()
    {
        var h = new ScoreHistogram();
        h.AddAll([-50f, -2.03f, -2.01f, 0f, 3.3f, 50f], [0, 0, 1, 1, 1, 0]);
        var metrics = new Metrics(h.ToMetrics());
        var back = ScoreHistogram.FromMetrics(metrics)!;
        Assert.Equal(3, back.Positives);
        Assert.Equal(3, back.Negatives);
        Assert.Equal(h.RocAuc(), back.RocAuc());
        Assert.Equal(h.AveragePrecision(), back.AveragePrecision());
        Assert.Null(ScoreHistogram.FromMetrics(new Metrics([KeyValuePair.Create(ScoreHistogram.PositiveKey, Scalar.Of("prob:0:1:10|3:1")), KeyValuePair.Create(ScoreHistogram.NegativeKey, Scalar.Of("prob:0:1:10|1:2"))])));
        Assert.Null(ScoreHistogram.FromMetrics(Metrics.Empty));
    }

    [Fact]
    public void Weighted_metrics_pool_histograms_and_confusion_counts_and_rename_the_site_mean()
    {
        var sites = Sites();
        var summary = new WeightedMetrics();
        var total = new ConfusionCounts();
        double meanAuc = 0;
        long rows = 0;
        foreach (var (z, y) in sites)
        {
            var h = new ScoreHistogram();
            h.AddAll(z, y);
            long tp = 0, fp = 0, tn = 0, fn = 0;
            for (int i = 0; i < z.Length; i++)
            {
                bool p = z[i] > 0, a = y[i] > 0.5f;
                if (p && a) tp++; else if (p) fp++; else if (a) fn++; else tn++;
            }
            var c = new ConfusionCounts(tp, fp, tn, fn);
            total += c;
            double auc = ExactAuc(z, y);
            meanAuc += auc * z.Length;
            rows += z.Length;
            summary.Add(new Metrics([.. h.ToMetrics(), .. c.ToMetrics(), KeyValuePair.Create("auc", Scalar.Of(auc)), KeyValuePair.Create("accuracy", Scalar.Of(c.Accuracy))]), z.Length);
        }
        var m = summary.ToMetrics();
        var allZ = sites.SelectMany(s => s.Logits).ToArray();
        var allY = sites.SelectMany(s => s.Labels).ToArray();
        Assert.Equal(meanAuc / rows, m["auc_site_mean"].AsDouble(), 1e-12);
        Assert.InRange(Math.Abs(m["auc"].AsDouble() - ExactAuc(allZ, allY)), 0, 0.01);
        Assert.NotEqual(m["auc_site_mean"].AsDouble(), m["auc"].AsDouble(), 3);
        Assert.Equal(total.TruePositives, m["tp"].AsInt());
        Assert.Equal(total.FalseNegatives, m["fn"].AsInt());
        Assert.Equal(total.F1, m["f1"].AsDouble(), 1e-12);
        Assert.Equal(total.Recall, m["recall"].AsDouble(), 1e-12);
        Assert.False(m.ContainsKey(ScoreHistogram.PositiveKey));
    }

    [Fact]
    public void Without_histograms_from_every_site_auc_stays_the_weighted_mean()
    {
        var summary = new WeightedMetrics();
        var h = new ScoreHistogram();
        h.AddAll([1f, -1f], [1, 0]);
        summary.Add(new Metrics([.. h.ToMetrics(), KeyValuePair.Create("auc", Scalar.Of(1.0))]), 2);
        summary.Add(new Metrics([KeyValuePair.Create("auc", Scalar.Of(0.5))]), 2);
        var m = summary.ToMetrics();
        Assert.Equal(0.75, m["auc"].AsDouble(), 1e-12);
        Assert.False(m.ContainsKey("auc_site_mean"));
    }

    private static double ExactAuc(float[] z, float[] y)
    {
        double credit = 0;
        long pairs = 0;
        for (int i = 0; i < z.Length; i++)
        {
            if (y[i] < 0.5f) continue;
            for (int j = 0; j < z.Length; j++)
            {
                if (y[j] > 0.5f) continue;
                pairs++;
                credit += z[i] > z[j] ? 1 : z[i] == z[j] ? 0.5 : 0;
            }
        }
        return credit / pairs;
    }

    // Σ over distinct thresholds, highest first, of (ΔR)·P, straight from the definition.
    private static double ExactAveragePrecision(float[] z, float[] y)
    {
        int positives = y.Count(v => v > 0.5f);
        double ap = 0, lastRecall = 0;
        foreach (float t in z.Distinct().OrderDescending())
        {
            int tp = 0, fp = 0;
            for (int i = 0; i < z.Length; i++)
            {
                if (z[i] < t) continue;
                if (y[i] > 0.5f) tp++; else fp++;
            }
            double recall = (double)tp / positives;
            ap += (recall - lastRecall) * tp / (tp + fp);
            lastRecall = recall;
        }
        return ap;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
