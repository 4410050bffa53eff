using Cohort.Evaluation;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Summarises the metrics several nodes report: example-weighted means of the numeric ones, and for
/// binary tasks the pooled figures. When every node sends its score histograms, <c>auc</c> and
/// <c>pr_auc</c> are those of all nodes' rows pooled (the per-node values' weighted means become
/// <c>auc_site_mean</c> and <c>pr_auc_site_mean</c>); when every node sends its confusion counts
/// (tp, fp, tn, fn), these are summed and precision, recall, F1 and balanced accuracy follow from the
/// sums exactly.
/// </summary>
public sealed class WeightedMetrics
{
    private readonly Dictionary<string, (double Sum, double Weight)> _sums = new(StringComparer.Ordinal);
    private readonly ScoreHistogram _histogram = new();
    private ConfusionCounts _confusion;
    private int _results, _withHistogram, _withConfusion;

    /// <summary>Adds one node's metrics with its example count as weight; non-numeric values are skipped.</summary>
    public void Add(Metrics metrics, long examples)
    {
        if (examples <= 0) return;
        _results++;
        foreach (var (key, value) in metrics)
        {
            if (!value.IsNumber) continue;
            _sums.TryGetValue(key, out var s);
            _sums[key] = (s.Sum + value.AsDouble() * examples, s.Weight + examples);
        }
        if (ScoreHistogram.FromMetrics(metrics) is { } h)
        {
            _histogram.Merge(h);
            _withHistogram++;
        }
        if (ConfusionCounts.FromMetrics(metrics) is { } c)
        {
            _confusion += c;
            _withConfusion++;
        }
    }

    /// <summary>The weighted means, with the pooled binary figures in place of means where every node allowed them.</summary>
    public Metrics ToMetrics()
    {
        var result = new Dictionary<string, Scalar>(StringComparer.Ordinal);
        foreach (var (key, (sum, weight)) in _sums) result[key] = Scalar.Of(sum / weight);
        if (_results == 0) return new Metrics(result);
        if (_withHistogram == _results)
        {
            foreach (var (key, pooled) in new[] { ("auc", _histogram.RocAuc()), ("pr_auc", _histogram.AveragePrecision()) })
            {
                if (result.Remove(key, out var mean)) result[key + "_site_mean"] = mean;
                if (double.IsFinite(pooled)) result[key] = Scalar.Of(pooled);
            }
        }
        if (_withConfusion == _results)
        {
            foreach (var kv in _confusion.ToMetrics()) result[kv.Key] = kv.Value;
            result["accuracy"] = Scalar.Of(_confusion.Accuracy);
        }
        return new Metrics(result);
    }
}
