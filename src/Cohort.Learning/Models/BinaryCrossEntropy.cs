using System.Numerics.Tensors;

namespace Cohort.Learning.Models;

/// <summary>Binary cross-entropy on logits, computed in the numerically stable form.</summary>
public static class BinaryCrossEntropy
{
    /// <summary>
    /// Mean over rows of softplus(z) − y·z = max(z,0) − y·z + log(1+e^−|z|), which never overflows, and
    /// its gradient (σ(z) − y)/rows into <paramref name="gradient"/>. <paramref name="scratch"/> needs rows elements.
    /// </summary>
    public static float WithLogits(ReadOnlySpan<float> logits, ReadOnlySpan<float> labels, Span<float> gradient, Span<float> scratch)
    {
        int n = logits.Length;
        if (labels.Length != n || gradient.Length < n || scratch.Length < n)
            throw new ArgumentException($"batch of {n} logits needs {n} labels, gradient and scratch slots");
        if (n == 0) return 0;
        var s = scratch[..n];
        var g = gradient[..n];

        TensorPrimitives.Abs(logits, s);
        TensorPrimitives.Negate(s, s);
        TensorPrimitives.Exp(s, s);
        TensorPrimitives.Add(s, 1f, s);
        TensorPrimitives.Log(s, s);
        float sum = TensorPrimitives.Sum<float>(s) - TensorPrimitives.Dot(logits, labels);
        TensorPrimitives.Max(logits, 0f, s);
        sum += TensorPrimitives.Sum<float>(s);

        TensorPrimitives.Sigmoid(logits, g);
        TensorPrimitives.Subtract(g, labels, g);
        TensorPrimitives.Multiply(g, 1f / n, g);
        return sum / n;
    }
}
