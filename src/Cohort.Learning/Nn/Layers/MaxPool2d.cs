namespace Cohort.Learning.Nn.Layers;

/// <summary>
/// Max pooling over kernel×kernel windows of each channel ([C, H, W] → [C, H', W'], H' = ⌊(H − k)/s⌋ + 1).
/// The position of each maximum is remembered so the backward pass routes the gradient to it.
/// </summary>
public sealed class MaxPool2d : Layer
{
    private int[] _argmax = [];

    /// <summary>Creates a pooling layer; the stride defaults to the kernel size.</summary>
    public MaxPool2d(string name, int kernel, int? stride = null) : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kernel, 1);
        Kernel = kernel;
        Stride = stride ?? kernel;
        ArgumentOutOfRangeException.ThrowIfLessThan(Stride, 1, nameof(stride));
    }

    /// <summary>Window size.</summary>
    public int Kernel { get; }

    /// <summary>Step between windows.</summary>
    public int Stride { get; }

    /// <inheritdoc />
    public override string Describe() => $"MaxPool2d({Kernel}×{Kernel}, stride {Stride})";

    /// <inheritdoc />
    protected override int[] ComputeOutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3) throw ShapeError(inputShape, "[channels, height, width]");
        int h = inputShape[1], w = inputShape[2];
        if (h < Kernel || w < Kernel) throw ShapeError(inputShape, $"height and width of at least {Kernel}");
        return [inputShape[0], (h - Kernel) / Stride + 1, (w - Kernel) / Stride + 1];
    }

    internal override void Reserve(int batch) => Ensure(ref _argmax, (long)batch * OutputSize);

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, bool training)
    {
        Ensure(ref _argmax, (long)batch * OutputSize);
        int planes = batch * InputShape[0];
        int h = InputShape[1], w = InputShape[2], oh = OutputShape[1], ow = OutputShape[2];
        int k = Kernel, s = Stride;
        var argmax = _argmax;
        if (k == 2 && s == 2)
        {
            ForwardTwoByTwo(x, y, planes, h, w, oh, ow);
            return;
        }
        for (int plane = 0; plane < planes; plane++)
        {
            var src = x.Slice(plane * h * w, h * w);
            int outBase = plane * oh * ow;
            for (int oy = 0; oy < oh; oy++)
            {
                for (int ox = 0; ox < ow; ox++)
                {
                    int best = oy * s * w + ox * s;
                    float max = src[best];
                    for (int ky = 0; ky < k; ky++)
                    {
                        int row = (oy * s + ky) * w + ox * s;
                        for (int kx = 0; kx < k; kx++)
                        {
                            // Strictly greater keeps the first maximum, as PyTorch does; NaN propagates.
                            float v = src[row + kx];
                            if (v > max || float.IsNaN(v)) { max = v; best = row + kx; }
                        }
                    }
                    y[outBase + oy * ow + ox] = max;
                    argmax[outBase + oy * ow + ox] = best;
                }
            }
        }
    }

    // The common 2×2, stride-2 window unrolled; outputs and argmax equal the generic loop's for all
    // finite inputs.
    private void ForwardTwoByTwo(ReadOnlySpan<float> x, Span<float> y, int planes, int h, int w, int oh, int ow)
    {
        var argmax = _argmax;
        for (int plane = 0; plane < planes; plane++)
        {
            var src = x.Slice(plane * h * w, h * w);
            int outBase = plane * oh * ow;
            for (int oy = 0; oy < oh; oy++)
            {
                int r0 = 2 * oy * w, r1 = r0 + w;
                var top = src.Slice(r0, 2 * ow);
                var bottom = src.Slice(r1, 2 * ow);
                var yRow = y.Slice(outBase + oy * ow, ow);
                var aRow = argmax.AsSpan(outBase + oy * ow, ow);
                for (int ox = 0; ox < ow; ox++)
                {
                    // Branch-free (random activations make compare branches unpredictable): the first
                    // maximum in scan order wins, as in the generic loop; a NaN reaches the output.
                    int c = 2 * ox;
                    float a = top[c], b = top[c + 1], d = bottom[c], e = bottom[c + 1];
                    int g1 = b > a ? 1 : 0, g2 = e > d ? 1 : 0;
                    float t = MathF.Max(a, b), u = MathF.Max(d, e);
                    int g3 = u > t ? 1 : 0;
                    yRow[ox] = MathF.Max(t, u);
                    aRow[ox] = r0 + c + g1 + g3 * (w + g2 - g1);
                }
            }
        }
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch)
    {
        if (dx.IsEmpty) return;
        dx[..(batch * InputSize)].Clear();
        int planes = batch * InputShape[0];
        int inPlane = InputShape[1] * InputShape[2], outPlane = OutputShape[1] * OutputShape[2];
        var argmax = _argmax;
        for (int plane = 0; plane < planes; plane++)
        {
            var d = dx.Slice(plane * inPlane, inPlane);
            int o = plane * outPlane;
            for (int i = 0; i < outPlane; i++) d[argmax[o + i]] += dy[o + i];
        }
    }
}
