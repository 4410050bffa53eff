using Cohort.Evaluation;
using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Learning.Models;
using Cohort.Records;

namespace Cohort.Apps.Tabular;

/// <summary>
/// What the tabular app reports about a model on a set of rows: loss; accuracy, precision, recall, F1,
/// balanced accuracy and the confusion counts (tp, fp, tn, fn) at the decision threshold (also
/// reported, as <c>threshold</c>); the threshold-free auc and pr_auc when defined; and both classes'
/// score histograms, from which the server computes the pooled AUC and PR-AUC of all sites.
/// </summary>
internal static class TabularEvaluation
{
    /// <summary>Evaluates <paramref name="model"/> on <paramref name="rows"/> at <paramref name="threshold"/>.</summary>
    public static EvaluateResult Evaluate(IModel model, TabularDataset rows, double threshold, bool histograms = true)
    {
        // An empty split reports nothing rather than NaN, which would poison weighted averages.
        if (rows.Count == 0) return new EvaluateResult(0, 0, Metrics.Empty);
        var e = BinaryEvaluation.Of(model, rows, threshold);
        var metrics = new List<KeyValuePair<string, Scalar>> { KeyValuePair.Create("accuracy", Scalar.Of(e.Accuracy)) };
        // AUC is undefined on a single-class split (possible at a small site); omit it rather than report NaN.
        if (double.IsFinite(e.Auc)) metrics.Add(KeyValuePair.Create("auc", Scalar.Of(e.Auc)));
        if (double.IsFinite(e.PrAuc)) metrics.Add(KeyValuePair.Create("pr_auc", Scalar.Of(e.PrAuc)));
        metrics.AddRange(e.Confusion.ToMetrics());
        metrics.Add(KeyValuePair.Create("threshold", Scalar.Of(threshold)));
        if (histograms) metrics.AddRange(e.Histogram(rows.Labels).ToMetrics());
        return new EvaluateResult(e.Loss, e.Examples, new Metrics(metrics));
    }
}
