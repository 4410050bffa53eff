using Cohort.Learning.Data;
using Cohort.Learning.Models;

namespace Cohort.Learning.Metrics;

/// <summary>A model's loss, accuracy and ROC AUC on a dataset; AUC is NaN when one class is absent.</summary>
/// <param name="Loss">Mean binary cross-entropy.</param>
/// <param name="Accuracy">Accuracy at p &gt; 0.5.</param>
/// <param name="Auc">ROC AUC, or NaN.</param>
/// <param name="Examples">Rows evaluated.</param>
public sealed record BinaryEvaluation(double Loss, double Accuracy, double Auc, int Examples)
{
    private const int ChunkRows = 1024;

    /// <summary>Evaluates <paramref name="model"/> on every row of <paramref name="data"/>.</summary>
    public static BinaryEvaluation Of(IModel model, TabularDataset data)
    {
        if (data.FeatureCount != model.InputSize && data.Count > 0)
            throw new ArgumentException($"{model.Description} expects {model.InputSize} features, the data has {data.FeatureCount}");
        int n = data.Count;
        var p = new float[n];
        // Chunks bound the model's scratch buffers whatever the dataset size.
        for (int start = 0; start < n; start += ChunkRows)
        {
            int rows = Math.Min(ChunkRows, n - start);
            model.Forward(data.Features.AsSpan(start * data.FeatureCount, rows * data.FeatureCount), p.AsSpan(start, rows));
        }
        BinaryMetrics.Sigmoid(p, p);
        return new BinaryEvaluation(BinaryMetrics.Loss(p, data.Labels), BinaryMetrics.Accuracy(p, data.Labels), BinaryMetrics.RocAuc(p, data.Labels), n);
    }
}
