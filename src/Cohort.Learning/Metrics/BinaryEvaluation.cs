using Cohort.Evaluation;
using Cohort.Learning.Data;
using Cohort.Learning.Models;

namespace Cohort.Learning.Metrics;

/// <summary>
/// A model's figures on a dataset: loss, the threshold-free ROC-AUC and average precision (NaN when a
/// class is absent), and the confusion matrix at a decision threshold. Keeps each row's logit so
/// callers can build a <see cref="ScoreHistogram"/> or choose a threshold.
/// </summary>
/// <param name="Loss">Mean binary cross-entropy.</param>
/// <param name="Auc">ROC-AUC, or NaN.</param>
/// <param name="PrAuc">Average precision (PR-AUC), or NaN without positives.</param>
/// <param name="Confusion">Counts at <paramref name="Threshold"/>.</param>
/// <param name="Threshold">Positive when p &gt; threshold.</param>
/// <param name="Logits">Each row's logit.</param>
public sealed record BinaryEvaluation(double Loss, double Auc, double PrAuc, ConfusionCounts Confusion, double Threshold, float[] Logits)
{
    private const int ChunkRows = 1024;

    /// <summary>Rows evaluated.</summary>
    public int Examples => Logits.Length;

    /// <summary>Accuracy at the threshold; NaN for no rows.</summary>
    public double Accuracy => Confusion.Accuracy;

    /// <summary>Evaluates <paramref name="model"/> on every row of <paramref name="data"/>, positive when p &gt; <paramref name="threshold"/>.</summary>
    internal static BinaryEvaluation Of(IModel model, TabularDataset data, double threshold = BinaryMetrics.Threshold)
    {
        var logits = LogitsOf(model, data);
        var p = new float[logits.Length];
        BinaryMetrics.Sigmoid(logits, p);
        return new BinaryEvaluation(BinaryMetrics.Loss(p, data.Labels), BinaryMetrics.RocAuc(p, data.Labels), BinaryMetrics.AveragePrecision(p, data.Labels),
            BinaryMetrics.Confusion(p, data.Labels, threshold), threshold, logits);
    }

    /// <summary>The logit of every row of <paramref name="data"/>.</summary>
    internal static float[] LogitsOf(IModel model, TabularDataset data)
    {
        if (data.FeatureCount != model.InputSize && data.Count > 0)
            throw new ArgumentException($"{model.Description} expects {model.InputSize} features, the data has {data.FeatureCount}");
        int n = data.Count;
        var z = new float[n];
        // Chunks bound the model's scratch buffers whatever the dataset size.
        for (int start = 0; start < n; start += ChunkRows)
        {
            int rows = Math.Min(ChunkRows, n - start);
            model.Forward(data.Features.AsSpan(start * data.FeatureCount, rows * data.FeatureCount), z.AsSpan(start, rows));
        }
        return z;
    }

    /// <summary>Both classes' score histograms of the rows.</summary>
    public ScoreHistogram Histogram(ReadOnlySpan<float> labels)
    {
        var h = new ScoreHistogram();
        h.AddAll(Logits, labels);
        return h;
    }
}
