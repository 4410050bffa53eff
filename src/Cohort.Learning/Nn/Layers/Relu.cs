using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Cohort.Learning.Nn.Layers;

/// <summary>Rectified linear unit max(x, 0), applied in place.</summary>
public sealed class Relu(string name = "relu") : Layer(name)
{
    /// <inheritdoc />
    public override string Describe() => "ReLU";

    internal override bool InPlace => true;

    /// <inheritdoc />
    protected override int[] ComputeOutputShape(int[] inputShape) => inputShape;

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, bool training) =>
        TensorPrimitives.Max(x[..(batch * InputSize)], 0f, y);

    // The derivative is 1 where the output is positive and 0 elsewhere; the output is what survives in place.
    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch)
    {
        if (dx.IsEmpty) return;
        int n = batch * InputSize;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var mask = Vector256.GreaterThan(Vector256.Create(y.Slice(i, Vector256<float>.Count)), Vector256<float>.Zero);
                (Vector256.Create(dy.Slice(i, Vector256<float>.Count)) & mask).CopyTo(dx.Slice(i, Vector256<float>.Count));
            }
        }
        for (; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
    }
}
