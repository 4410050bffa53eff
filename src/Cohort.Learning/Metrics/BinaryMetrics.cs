using System.Numerics.Tensors;
using Cohort.Evaluation;

namespace Cohort.Learning.Metrics;

/// <summary>Metrics of binary predictions: probabilities of the positive class against 0/1 labels.</summary>
public static class BinaryMetrics
{
    /// <summary>Decision threshold on the predicted probability (FLamby: positive when p &gt; 0.5).</summary>
    public const float Threshold = 0.5f;

    /// <summary>
    /// Mean binary cross-entropy −[y·log p + (1−y)·log(1−p)], with each log clamped at −100 as
    /// PyTorch's BCELoss does, so a confidently wrong prediction costs 100 rather than infinity.
    /// </summary>
    public static double Loss(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        CheckLengths(probabilities, labels);
        double sum = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            double p = probabilities[i];
            double y = labels[i];
            sum -= y * Math.Max(Math.Log(p), -100) + (1 - y) * Math.Max(Math.Log(1 - p), -100);
        }
        return probabilities.Length == 0 ? double.NaN : sum / probabilities.Length;
    }

    /// <summary>Share of rows where (p &gt; 0.5) equals the label; NaN for no rows.</summary>
    public static double Accuracy(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        CheckLengths(probabilities, labels);
        int correct = 0;
        for (int i = 0; i < probabilities.Length; i++)
            if ((probabilities[i] > Threshold) == (labels[i] > 0.5f)) correct++;
        return probabilities.Length == 0 ? double.NaN : (double)correct / probabilities.Length;
    }

    /// <summary>
    /// Area under the ROC curve by the rank-sum (Mann–Whitney) formula with tied scores given their
    /// average rank, which equals scikit-learn's roc_auc_score. NaN when either class is absent.
    /// </summary>
    public static double RocAuc(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        CheckLengths(scores, labels);
        int n = scores.Length;
        int positives = 0;
        foreach (float y in labels) if (y > 0.5f) positives++;
        int negatives = n - positives;
        if (positives == 0 || negatives == 0) return double.NaN;

        var sorted = scores.ToArray();
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(sorted, order);

        double positiveRankSum = 0;
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && sorted[end] == sorted[start]) end++;
            double averageRank = (start + 1 + end) / 2.0; // ranks start+1 … end share their mean
            for (int k = start; k < end; k++)
                if (labels[order[k]] > 0.5f) positiveRankSum += averageRank;
            start = end;
        }
        return (positiveRankSum - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }

    /// <summary>
    /// Average precision (area under the precision–recall curve as scikit-learn's
    /// average_precision_score computes it): Σ (Rₖ − Rₖ₋₁)·Pₖ over the distinct scores from the highest
    /// down, tied scores forming one threshold. NaN without positives.
    /// </summary>
    public static double AveragePrecision(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        CheckLengths(scores, labels);
        int n = scores.Length;
        int positives = 0;
        foreach (float y in labels) if (y > 0.5f) positives++;
        if (positives == 0) return double.NaN;

        var sorted = scores.ToArray();
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(sorted, order);

        double ap = 0;
        long tp = 0, fp = 0;
        for (int end = n; end > 0;)
        {
            int start = end - 1;
            while (start > 0 && sorted[start - 1] == sorted[end - 1]) start--;
            int groupPositives = 0;
            for (int k = start; k < end; k++)
                if (labels[order[k]] > 0.5f) groupPositives++;
            tp += groupPositives;
            fp += end - start - groupPositives;
            if (groupPositives > 0) ap += (double)groupPositives / positives * ((double)tp / (tp + fp));
            end = start;
        }
        return ap;
    }

    /// <summary>The confusion matrix of predicting positive when p &gt; <paramref name="threshold"/>.</summary>
    public static ConfusionCounts Confusion(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels, double threshold = Threshold)
    {
        CheckLengths(probabilities, labels);
        long tp = 0, fp = 0, tn = 0, fn = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            bool predicted = probabilities[i] > threshold, actual = labels[i] > 0.5f;
            if (predicted) { if (actual) tp++; else fp++; }
            else if (actual) fn++;
            else tn++;
        }
        return new ConfusionCounts(tp, fp, tn, fn);
    }

    /// <summary>σ(logit) for each element, the probability the models' logits stand for.</summary>
    public static void Sigmoid(ReadOnlySpan<float> logits, Span<float> probabilities) => TensorPrimitives.Sigmoid(logits, probabilities);

    private static void CheckLengths(ReadOnlySpan<float> a, ReadOnlySpan<float> labels)
    {
        if (a.Length != labels.Length) throw new ArgumentException($"{a.Length} predictions but {labels.Length} labels");
    }
}
