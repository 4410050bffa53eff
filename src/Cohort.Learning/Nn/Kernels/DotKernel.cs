using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Cohort.Learning.Nn.Kernels;

/// <summary>
/// C[m×n] (+)= A[m×k]·B[n×k]ᵀ as dot products of rows, for a few rows of A against many rows of B
/// (a small batch through a Linear layer: B is the weight matrix). Both operands are read in place,
/// so the weights are never packed or transposed: each block of B rows is loaded once per block of
/// up to six A rows while all their dot products accumulate in registers. Every element is the same
/// sum in the same order whatever the blocking or the number of threads.
/// </summary>
internal static unsafe class DotKernel
{
    /// <summary>A rows per block (register tile height).</summary>
    public const int RowBlock = 6;

    /// <summary>B rows per block: 4 with 512-bit vectors, 2 with 256-bit, 1 otherwise.</summary>
    public static readonly int ColumnBlock = MicroKernel.Path switch
    {
        SimdPath.Avx512 => 4,
        SimdPath.Avx2 => 2,
        _ => 1,
    };

    /// <summary>Columns [n0, n1) of C (n0 a multiple of <see cref="ColumnBlock"/>) for all m rows.</summary>
    public static void Run(int m, int n0, int n1, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        int blocks = (m + RowBlock - 1) / RowBlock;
        float* sums = stackalloc float[RowBlock * 4];
        for (int j = n0; j < n1; j += ColumnBlock)
        {
            int cols = Math.Min(ColumnBlock, n1 - j);
            for (int blk = 0; blk < blocks; blk++)
            {
                // Balanced blocks (10 rows: 5 + 5); a block of fewer than six rows repeats its first
                // row in the spare registers and drops those sums.
                int i0 = m * blk / blocks, rows = m * (blk + 1) / blocks - i0;
                float* a0 = a + (long)i0 * lda;
                float* a1 = rows > 1 ? a0 + lda : a0, a2 = rows > 2 ? a0 + 2L * lda : a0;
                float* a3 = rows > 3 ? a0 + 3L * lda : a0, a4 = rows > 4 ? a0 + 4L * lda : a0, a5 = rows > 5 ? a0 + 5L * lda : a0;
                float* b0 = b + (long)j * ldb;
                if (MicroKernel.Path == SimdPath.Avx512)
                {
                    float* b1 = cols > 1 ? b0 + ldb : b0, b2 = cols > 2 ? b0 + 2L * ldb : b0, b3 = cols > 3 ? b0 + 3L * ldb : b0;
                    Block512(k, a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, sums);
                }
                else if (MicroKernel.Path == SimdPath.Avx2)
                {
                    Block256(k, a0, a1, a2, a3, a4, a5, b0, cols > 1 ? b0 + ldb : b0, sums);
                }
                else
                {
                    BlockScalar(k, a0, a1, a2, a3, a4, a5, b0, sums);
                }
                for (int r = 0; r < rows; r++)
                {
                    float* dst = c + (long)(i0 + r) * ldc + j;
                    for (int q = 0; q < cols; q++)
                        dst[q] = accumulate ? dst[q] + sums[r * 4 + q] : sums[r * 4 + q];
                }
            }
        }
    }

    // The scalar tail past the last whole vector, added after the vector sum.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail(int p, int k, float* x, float* y)
    {
        float s = 0;
        for (; p < k; p++) s = MathF.FusedMultiplyAdd(x[p], y[p], s);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block512(int k, float* a0, float* a1, float* a2, float* a3, float* a4, float* a5,
        float* b0, float* b1, float* b2, float* b3, float* sums)
    {
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
        Vector512<float> s40 = default, s41 = default, s42 = default, s43 = default;
        Vector512<float> s50 = default, s51 = default, s52 = default, s53 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var w0 = Vector512.Load(b0 + p);
            var w1 = Vector512.Load(b1 + p);
            var w2 = Vector512.Load(b2 + p);
            var w3 = Vector512.Load(b3 + p);
            var x = Vector512.Load(a0 + p);
            s00 = Vector512.FusedMultiplyAdd(x, w0, s00); s01 = Vector512.FusedMultiplyAdd(x, w1, s01);
            s02 = Vector512.FusedMultiplyAdd(x, w2, s02); s03 = Vector512.FusedMultiplyAdd(x, w3, s03);
            x = Vector512.Load(a1 + p);
            s10 = Vector512.FusedMultiplyAdd(x, w0, s10); s11 = Vector512.FusedMultiplyAdd(x, w1, s11);
            s12 = Vector512.FusedMultiplyAdd(x, w2, s12); s13 = Vector512.FusedMultiplyAdd(x, w3, s13);
            x = Vector512.Load(a2 + p);
            s20 = Vector512.FusedMultiplyAdd(x, w0, s20); s21 = Vector512.FusedMultiplyAdd(x, w1, s21);
            s22 = Vector512.FusedMultiplyAdd(x, w2, s22); s23 = Vector512.FusedMultiplyAdd(x, w3, s23);
            x = Vector512.Load(a3 + p);
            s30 = Vector512.FusedMultiplyAdd(x, w0, s30); s31 = Vector512.FusedMultiplyAdd(x, w1, s31);
            s32 = Vector512.FusedMultiplyAdd(x, w2, s32); s33 = Vector512.FusedMultiplyAdd(x, w3, s33);
            x = Vector512.Load(a4 + p);
            s40 = Vector512.FusedMultiplyAdd(x, w0, s40); s41 = Vector512.FusedMultiplyAdd(x, w1, s41);
            s42 = Vector512.FusedMultiplyAdd(x, w2, s42); s43 = Vector512.FusedMultiplyAdd(x, w3, s43);
            x = Vector512.Load(a5 + p);
            s50 = Vector512.FusedMultiplyAdd(x, w0, s50); s51 = Vector512.FusedMultiplyAdd(x, w1, s51);
            s52 = Vector512.FusedMultiplyAdd(x, w2, s52); s53 = Vector512.FusedMultiplyAdd(x, w3, s53);
        }
        sums[0] = Vector512.Sum(s00) + Tail(p, k, a0, b0); sums[1] = Vector512.Sum(s01) + Tail(p, k, a0, b1);
        sums[2] = Vector512.Sum(s02) + Tail(p, k, a0, b2); sums[3] = Vector512.Sum(s03) + Tail(p, k, a0, b3);
        sums[4] = Vector512.Sum(s10) + Tail(p, k, a1, b0); sums[5] = Vector512.Sum(s11) + Tail(p, k, a1, b1);
        sums[6] = Vector512.Sum(s12) + Tail(p, k, a1, b2); sums[7] = Vector512.Sum(s13) + Tail(p, k, a1, b3);
        sums[8] = Vector512.Sum(s20) + Tail(p, k, a2, b0); sums[9] = Vector512.Sum(s21) + Tail(p, k, a2, b1);
        sums[10] = Vector512.Sum(s22) + Tail(p, k, a2, b2); sums[11] = Vector512.Sum(s23) + Tail(p, k, a2, b3);
        sums[12] = Vector512.Sum(s30) + Tail(p, k, a3, b0); sums[13] = Vector512.Sum(s31) + Tail(p, k, a3, b1);
        sums[14] = Vector512.Sum(s32) + Tail(p, k, a3, b2); sums[15] = Vector512.Sum(s33) + Tail(p, k, a3, b3);
        sums[16] = Vector512.Sum(s40) + Tail(p, k, a4, b0); sums[17] = Vector512.Sum(s41) + Tail(p, k, a4, b1);
        sums[18] = Vector512.Sum(s42) + Tail(p, k, a4, b2); sums[19] = Vector512.Sum(s43) + Tail(p, k, a4, b3);
        sums[20] = Vector512.Sum(s50) + Tail(p, k, a5, b0); sums[21] = Vector512.Sum(s51) + Tail(p, k, a5, b1);
        sums[22] = Vector512.Sum(s52) + Tail(p, k, a5, b2); sums[23] = Vector512.Sum(s53) + Tail(p, k, a5, b3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block256(int k, float* a0, float* a1, float* a2, float* a3, float* a4, float* a5, float* b0, float* b1, float* sums)
    {
        Vector256<float> s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default;
        Vector256<float> s30 = default, s31 = default, s40 = default, s41 = default, s50 = default, s51 = default;
        int p = 0;
        for (; p + 8 <= k; p += 8)
        {
            var w0 = Vector256.Load(b0 + p);
            var w1 = Vector256.Load(b1 + p);
            var x = Vector256.Load(a0 + p);
            s00 = Vector256.FusedMultiplyAdd(x, w0, s00); s01 = Vector256.FusedMultiplyAdd(x, w1, s01);
            x = Vector256.Load(a1 + p);
            s10 = Vector256.FusedMultiplyAdd(x, w0, s10); s11 = Vector256.FusedMultiplyAdd(x, w1, s11);
            x = Vector256.Load(a2 + p);
            s20 = Vector256.FusedMultiplyAdd(x, w0, s20); s21 = Vector256.FusedMultiplyAdd(x, w1, s21);
            x = Vector256.Load(a3 + p);
            s30 = Vector256.FusedMultiplyAdd(x, w0, s30); s31 = Vector256.FusedMultiplyAdd(x, w1, s31);
            x = Vector256.Load(a4 + p);
            s40 = Vector256.FusedMultiplyAdd(x, w0, s40); s41 = Vector256.FusedMultiplyAdd(x, w1, s41);
            x = Vector256.Load(a5 + p);
            s50 = Vector256.FusedMultiplyAdd(x, w0, s50); s51 = Vector256.FusedMultiplyAdd(x, w1, s51);
        }
        sums[0] = Vector256.Sum(s00) + Tail(p, k, a0, b0); sums[1] = Vector256.Sum(s01) + Tail(p, k, a0, b1);
        sums[4] = Vector256.Sum(s10) + Tail(p, k, a1, b0); sums[5] = Vector256.Sum(s11) + Tail(p, k, a1, b1);
        sums[8] = Vector256.Sum(s20) + Tail(p, k, a2, b0); sums[9] = Vector256.Sum(s21) + Tail(p, k, a2, b1);
        sums[12] = Vector256.Sum(s30) + Tail(p, k, a3, b0); sums[13] = Vector256.Sum(s31) + Tail(p, k, a3, b1);
        sums[16] = Vector256.Sum(s40) + Tail(p, k, a4, b0); sums[17] = Vector256.Sum(s41) + Tail(p, k, a4, b1);
        sums[20] = Vector256.Sum(s50) + Tail(p, k, a5, b0); sums[21] = Vector256.Sum(s51) + Tail(p, k, a5, b1);
    }

    private static void BlockScalar(int k, float* a0, float* a1, float* a2, float* a3, float* a4, float* a5, float* b0, float* sums)
    {
        sums[0] = Tail(0, k, a0, b0);
        sums[4] = Tail(0, k, a1, b0);
        sums[8] = Tail(0, k, a2, b0);
        sums[12] = Tail(0, k, a3, b0);
        sums[16] = Tail(0, k, a4, b0);
        sums[20] = Tail(0, k, a5, b0);
    }
}
