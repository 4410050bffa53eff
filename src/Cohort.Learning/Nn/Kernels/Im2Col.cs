namespace Cohort.Learning.Nn.Kernels;

/// <summary>
/// The geometry of a 2-D convolution over NCHW images and its unfolding into columns: row
/// (c, ky, kx) of the column matrix holds, for every example and output position (b, oy, ox), the
/// input pixel that kernel tap meets there (zero in the padding). Convolution then is one GEMM.
/// </summary>
internal readonly record struct ConvGeometry(int Channels, int Height, int Width, int KernelH, int KernelW, int Stride, int Padding, int OutH, int OutW)
{
    /// <summary>Rows of the column matrix: channels × kernel taps.</summary>
    public int Rows => Channels * KernelH * KernelW;

    /// <summary>Output positions per example.</summary>
    public int OutPlane => OutH * OutW;

    /// <summary>Values per input example.</summary>
    public int InSize => Channels * Height * Width;

    /// <summary>
    /// Writes rows [rowStart, rowEnd) of the column matrix for <paramref name="examples"/> examples of
    /// <paramref name="x"/> into <paramref name="col"/> ([Rows, examples·OutPlane]).
    /// </summary>
    public void Unfold(ReadOnlySpan<float> x, int examples, Span<float> col, int rowStart, int rowEnd)
    {
        int plane = OutPlane, cols = examples * plane, taps = KernelH * KernelW;
        for (int row = rowStart; row < rowEnd; row++)
        {
            int c = row / taps, ky = row % taps / KernelW, kx = row % KernelW;
            var dstRow = col.Slice(row * cols, cols);
            var (lo, hi) = ValidOutputColumns(kx);
            int shift = kx - Padding;
            for (int b = 0; b < examples; b++)
            {
                var src = x.Slice((b * Channels + c) * Height * Width, Height * Width);
                for (int oy = 0; oy < OutH; oy++)
                {
                    var dst = dstRow.Slice(b * plane + oy * OutW, OutW);
                    int iy = oy * Stride - Padding + ky;
                    if ((uint)iy >= (uint)Height)
                    {
                        dst.Clear();
                        continue;
                    }
                    var line = src.Slice(iy * Width, Width);
                    dst[..lo].Clear();
                    dst[hi..].Clear();
                    if (Stride == 1)
                        line.Slice(lo + shift, hi - lo).CopyTo(dst[lo..hi]);
                    else
                        for (int ox = lo; ox < hi; ox++) dst[ox] = line[ox * Stride + shift];
                }
            }
        }
    }

    /// <summary>
    /// Adds the column matrix back onto the image gradient for channels [channelStart, channelEnd):
    /// dx[b, c, iy, ix] += col[(c, ky, kx), (b, oy, ox)]. The caller clears dx first.
    /// </summary>
    public void Fold(ReadOnlySpan<float> col, int examples, Span<float> dx, int channelStart, int channelEnd)
    {
        int plane = OutPlane, cols = examples * plane, taps = KernelH * KernelW;
        for (int c = channelStart; c < channelEnd; c++)
        {
            for (int tap = 0; tap < taps; tap++)
            {
                int ky = tap / KernelW, kx = tap % KernelW, row = c * taps + tap;
                var srcRow = col.Slice(row * cols, cols);
                var (lo, hi) = ValidOutputColumns(kx);
                int shift = kx - Padding;
                for (int b = 0; b < examples; b++)
                {
                    var dst = dx.Slice((b * Channels + c) * Height * Width, Height * Width);
                    for (int oy = 0; oy < OutH; oy++)
                    {
                        int iy = oy * Stride - Padding + ky;
                        if ((uint)iy >= (uint)Height) continue;
                        var src = srcRow.Slice(b * plane + oy * OutW, OutW);
                        var line = dst.Slice(iy * Width, Width);
                        if (Stride == 1)
                            System.Numerics.Tensors.TensorPrimitives.Add(line.Slice(lo + shift, hi - lo), src[lo..hi], line.Slice(lo + shift, hi - lo));
                        else
                            for (int ox = lo; ox < hi; ox++) line[ox * Stride + shift] += src[ox];
                    }
                }
            }
        }
    }

    // Output columns ox whose input column ox·s − p + kx falls inside the image.
    private (int Lo, int Hi) ValidOutputColumns(int kx)
    {
        int first = Padding - kx; // ox·s ≥ p − kx
        int lo = first <= 0 ? 0 : (first + Stride - 1) / Stride;
        int last = Width - 1 + Padding - kx; // ox·s ≤ w − 1 + p − kx
        int hi = last < 0 ? 0 : Math.Min(OutW, last / Stride + 1);
        return (Math.Min(lo, hi), hi);
    }
}
