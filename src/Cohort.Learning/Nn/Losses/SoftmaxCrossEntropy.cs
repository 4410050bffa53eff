using System.Numerics.Tensors;

namespace Cohort.Learning.Nn.Losses;

/// <summary>Softmax cross-entropy on logits with integer class labels, as PyTorch's nn.CrossEntropyLoss (mean reduction).</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Mean over rows of −log softmax(z)[label], computed with the max subtracted so it never
    /// overflows; writes its gradient (softmax(z) − onehot)/rows into <paramref name="gradient"/>
    /// (unless empty) and counts the rows whose largest logit is the label.
    /// </summary>
    public static float Compute(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, Span<float> gradient, out int correct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        int rows = labels.Length;
        if (logits.Length < rows * classes) throw new ArgumentException($"{rows} labels need {rows * classes} logits of {classes} classes, got {logits.Length}");
        if (!gradient.IsEmpty && gradient.Length < rows * classes) throw new ArgumentException($"gradient needs {rows * classes} values, got {gradient.Length}");
        correct = 0;
        if (rows == 0) return 0;
        double total = 0;
        float scale = 1f / rows;
        Span<float> p = classes <= 256 ? stackalloc float[classes] : new float[classes];
        for (int r = 0; r < rows; r++)
        {
            int label = labels[r];
            if ((uint)label >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), label, $"label of row {r} is outside 0..{classes - 1}");
            var z = logits.Slice(r * classes, classes);
            int best = TensorPrimitives.IndexOfMax(z);
            if (best == label) correct++;
            float max = z[best];
            TensorPrimitives.Subtract(z, max, p);
            TensorPrimitives.Exp(p, p);
            float sum = TensorPrimitives.Sum<float>(p);
            total += Math.Log(sum) - (z[label] - max);
            if (!gradient.IsEmpty)
            {
                var g = gradient.Slice(r * classes, classes);
                TensorPrimitives.Multiply(p, scale / sum, g);
                g[label] -= scale;
            }
        }
        return (float)(total / rows);
    }
}
