using System.Runtime.Intrinsics;

namespace Cohort.Learning.Nn.Kernels;

/// <summary>
/// The geometry of a 2-D convolution over NCHW images and its unfolding into columns: row
/// (c, ky, kx) of the column matrix holds, for every example and output position (b, oy, ox), the
/// input pixel that kernel tap meets there (zero in the padding). Convolution then is one GEMM.
/// </summary>
internal readonly unsafe record struct ConvGeometry(int Channels, int Height, int Width, int KernelH, int KernelW, int Stride, int Padding, int OutH, int OutW)
{
    /// <summary>Rows of the column matrix: channels × kernel taps.</summary>
    public int Rows => Channels * KernelH * KernelW;

    /// <summary>Output positions per example.</summary>
    public int OutPlane => OutH * OutW;

    /// <summary>Values per input example.</summary>
    public int InSize => Channels * Height * Width;

    /// <summary>Width of an input plane with the zero padding on both sides.</summary>
    public int PaddedWidth => Width + 2 * Padding;

    /// <summary>
    /// Floats between consecutive zero-padded planes: the padded image plus slack, so a vector that
    /// runs up to 7 floats past the last row of a plane stays inside that plane.
    /// </summary>
    public int PaddedPlane => (Height + 2 * Padding) * PaddedWidth + 16;

    /// <summary>Floats of a padded copy of <paramref name="examples"/> examples.</summary>
    public long PaddedSize(int examples) => (long)examples * Channels * PaddedPlane;

    /// <summary>
    /// Copies planes [planeStart, planeEnd) (plane = example·Channels + channel) of <paramref name="x"/>
    /// into <paramref name="padded"/>, each surrounded by its zero padding.
    /// </summary>
    public void Pad(float* x, float* padded, int planeStart, int planeEnd)
    {
        int pw = PaddedWidth, pp = PaddedPlane;
        for (int plane = planeStart; plane < planeEnd; plane++)
        {
            float* dst = padded + (long)plane * pp;
            new Span<float>(dst, pp).Clear();
            float* src = x + (long)plane * Height * Width;
            dst += Padding * pw + Padding;
            for (int y = 0; y < Height; y++, src += Width, dst += pw)
                new ReadOnlySpan<float>(src, Width).CopyTo(new Span<float>(dst, Width));
        }
    }

    /// <summary>
    /// Stride-1 unfolding from a zero-padded copy (see <see cref="Pad"/>): rows [rowStart, rowEnd) of
    /// the column matrix as plain copies of OutW values, with no edge cases. Same values as <see cref="Unfold"/>.
    /// </summary>
    public void UnfoldPadded(float* padded, int examples, float* col, int rowStart, int rowEnd)
    {
        int plane = OutPlane, cols = examples * plane, taps = KernelH * KernelW, pw = PaddedWidth, pp = PaddedPlane;
        for (int row = rowStart; row < rowEnd; row++)
        {
            int c = row / taps, ky = row % taps / KernelW, kx = row % KernelW;
            float* dst = col + (long)row * cols;
            for (int b = 0; b < examples; b++)
            {
                float* src = padded + (long)(b * Channels + c) * pp + ky * pw + kx;
                for (int oy = 0; oy < OutH; oy++, src += pw, dst += OutW) CopyRow(src, dst, OutW);
            }
        }
    }

    /// <summary>
    /// Stride-1 folding into a zero-padded gradient (cleared by the caller, or holding earlier sums):
    /// dxPadded[b, c, oy + ky, ox + kx] += col[(c, ky, kx), (b, oy, ox)] for channels [channelStart,
    /// channelEnd), in the same order as <see cref="Fold"/>. The column matrix needs 8 floats of slack after its end.
    /// </summary>
    public void FoldPadded(float* col, int examples, float* dxPadded, int channelStart, int channelEnd)
    {
        int plane = OutPlane, cols = examples * plane, taps = KernelH * KernelW, pw = PaddedWidth, pp = PaddedPlane;
        int tail = OutW % 8, body = OutW - tail;
        var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(tail)).AsSingle();
        for (int c = channelStart; c < channelEnd; c++)
        {
            for (int tap = 0; tap < taps; tap++)
            {
                int ky = tap / KernelW, kx = tap % KernelW;
                float* src = col + (long)(c * taps + tap) * cols;
                for (int b = 0; b < examples; b++)
                {
                    float* dst = dxPadded + (long)(b * Channels + c) * pp + ky * pw + kx;
                    for (int oy = 0; oy < OutH; oy++, src += OutW, dst += pw)
                    {
                        if (!Vector256.IsHardwareAccelerated)
                        {
                            for (int i = 0; i < OutW; i++) dst[i] += src[i];
                            continue;
                        }
                        int ox = 0;
                        for (; ox < body; ox += 8)
                            (Vector256.Load(dst + ox) + Vector256.Load(src + ox)).Store(dst + ox);
                        // The last few values: a whole vector whose lanes past the row add zero (it
                        // rewrites unchanged neighbours within this plane, which only this thread touches).
                        if (tail != 0)
                            (Vector256.Load(dst + ox) + (Vector256.Load(src + ox) & mask)).Store(dst + ox);
                    }
                }
            }
        }
    }

    /// <summary>Copies the interior of padded planes [planeStart, planeEnd) back to an unpadded gradient.</summary>
    public void Crop(float* dxPadded, float* dx, int planeStart, int planeEnd)
    {
        int pw = PaddedWidth, pp = PaddedPlane;
        for (int plane = planeStart; plane < planeEnd; plane++)
        {
            float* src = dxPadded + (long)plane * pp + Padding * pw + Padding;
            float* dst = dx + (long)plane * Height * Width;
            for (int y = 0; y < Height; y++, src += pw, dst += Width)
                new ReadOnlySpan<float>(src, Width).CopyTo(new Span<float>(dst, Width));
        }
    }

    // n values from src to dst; rows of 8 or more as vectors, the last one overlapping the one before.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(float* src, float* dst, int n)
    {
        if (n < 8 || !Vector256.IsHardwareAccelerated)
        {
            for (int i = 0; i < n; i++) dst[i] = src[i];
            return;
        }
        int j = 0;
        for (; j + 8 <= n; j += 8) Vector256.Load(src + j).Store(dst + j);
        if (j < n) Vector256.Load(src + n - 8).Store(dst + n - 8);
    }

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
