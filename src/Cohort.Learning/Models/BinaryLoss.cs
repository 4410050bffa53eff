namespace Cohort.Learning.Models;

/// <summary>
/// The training loss of a binary model on logits: cross-entropy, optionally with a weight per class
/// (imbalanced labels: errors on the rare class cost more) and a focal term (Lin et al., 2017,
/// "Focal Loss for Dense Object Detection"): −w_y·(1 − q)^γ·log q, where q is the probability given to
/// the true class, so rows the model already gets right contribute little. The mean over rows is
/// divided by the row count, as PyTorch's weighted BCE does.
/// </summary>
/// <param name="NegativeWeight">Weight of class 0 rows.</param>
/// <param name="PositiveWeight">Weight of class 1 rows.</param>
/// <param name="FocalGamma">γ ≥ 0; 0 is plain (weighted) cross-entropy.</param>
public sealed record BinaryLoss(double NegativeWeight = 1, double PositiveWeight = 1, double FocalGamma = 0)
{
    /// <summary>Plain binary cross-entropy.</summary>
    public static BinaryLoss CrossEntropy { get; } = new();

    /// <summary>True for unweighted cross-entropy, computed by the vectorised <see cref="BinaryCrossEntropy"/>.</summary>
    public bool IsPlain => NegativeWeight == 1 && PositiveWeight == 1 && FocalGamma == 0;

    /// <summary>
    /// The mean loss of a batch of logits against 0/1 labels, and its gradient with respect to each
    /// logit (divided by the row count) into <paramref name="gradient"/>.
    /// </summary>
    public float Compute(ReadOnlySpan<float> logits, ReadOnlySpan<float> labels, Span<float> gradient, Span<float> scratch)
    {
        if (IsPlain) return BinaryCrossEntropy.WithLogits(logits, labels, gradient, scratch);
        int n = logits.Length;
        if (labels.Length != n || gradient.Length < n)
            throw new ArgumentException($"batch of {n} logits needs {n} labels and gradient slots");
        if (n == 0) return 0;
        double sum = 0, gamma = FocalGamma;
        for (int i = 0; i < n; i++)
        {
            bool positive = labels[i] > 0.5f;
            double s = positive ? 1 : -1, w = positive ? PositiveWeight : NegativeWeight;
            double m = s * logits[i];
            // log q = −softplus(−m), stable for any m; 1 − q = σ(−m).
            double logQ = -(Math.Max(-m, 0) + Math.Log(1 + Math.Exp(-Math.Abs(m))));
            double q = Math.Exp(logQ), r = 1 / (1 + Math.Exp(m));
            double loss, dm;
            if (gamma == 0)
            {
                loss = -logQ;
                dm = -r;
            }
            else
            {
                double rg = Math.Pow(r, gamma);
                loss = -rg * logQ;
                // d/dm [−(1−q)^γ log q] with dq/dm = q(1−q): γ q (1−q)^γ log q − (1−q)^(γ+1).
                dm = gamma * q * rg * logQ - rg * r;
            }
            sum += w * loss;
            gradient[i] = (float)(w * s * dm / n);
        }
        return (float)(sum / n);
    }
}
