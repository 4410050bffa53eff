using System.Numerics;
using System.Numerics.Tensors;

namespace Cohort.Learning.Models;

/// <summary>Batched fully connected layer and ReLU kernels over row-major spans.</summary>
internal static class DenseKernels
{
    /// <summary>y[n,m] = x[n,k]·Wᵀ + b with W stored [m,k] (PyTorch's layout), one vectorised dot per output.</summary>
    public static void Forward(ReadOnlySpan<float> x, int k, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y)
    {
        int m = b.Length;
        int n = x.Length / k;
        for (int i = 0; i < n; i++)
        {
            var xi = x.Slice(i * k, k);
            var yi = y.Slice(i * m, m);
            for (int j = 0; j < m; j++) yi[j] = TensorPrimitives.Dot(xi, w.Slice(j * k, k)) + b[j];
        }
    }

    /// <summary>
    /// Accumulates gW += dYᵀ·x and gb += Σ dY, and when <paramref name="dx"/> is not empty sets dX = dY·W.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, int k, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, Span<float> gw, Span<float> gb, Span<float> dx)
    {
        int m = gb.Length;
        int n = x.Length / k;
        if (!dx.IsEmpty) dx[..(n * k)].Clear();
        for (int i = 0; i < n; i++)
        {
            var xi = x.Slice(i * k, k);
            var dyi = dy.Slice(i * m, m);
            TensorPrimitives.Add(gb, dyi, gb);
            var dxi = dx.IsEmpty ? Span<float>.Empty : dx.Slice(i * k, k);
            for (int j = 0; j < m; j++)
            {
                float g = dyi[j];
                if (g == 0) continue;
                var gwj = gw.Slice(j * k, k);
                TensorPrimitives.MultiplyAdd(xi, g, gwj, gwj);
                if (!dxi.IsEmpty) TensorPrimitives.MultiplyAdd(w.Slice(j * k, k), g, dxi, dxi);
            }
        }
    }

    /// <summary>a = max(z, 0).</summary>
    public static void Relu(ReadOnlySpan<float> z, Span<float> a) => TensorPrimitives.Max(z, 0f, a);

    /// <summary>Zeroes <paramref name="grad"/> where the ReLU output <paramref name="activation"/> is 0 (its derivative there).</summary>
    public static void ReluBackward(ReadOnlySpan<float> activation, Span<float> grad)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int w = Vector<float>.Count;
            for (; i <= grad.Length - w; i += w)
            {
                var a = new Vector<float>(activation[i..]);
                var g = new Vector<float>(grad[i..]);
                Vector.ConditionalSelect(Vector.GreaterThan(a, Vector<float>.Zero), g, Vector<float>.Zero).CopyTo(grad[i..]);
            }
        }
        for (; i < grad.Length; i++)
            if (!(activation[i] > 0)) grad[i] = 0;
    }
}
