using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Cohort.Learning.Nn.Kernels;

/// <summary>
/// Single-precision matrix multiply C = op(A)·op(B) (+ C), row-major, in the BLIS style: the
/// operands are cut into cache-sized blocks (KC deep, MC rows of A, NC columns of B), each block is
/// packed into contiguous micro-panels (zero-padded at the edges) and a register-blocked micro-kernel
/// (<see cref="MicroKernel"/>) runs over them with FMA. Large products are split into disjoint column
/// (or row) ranges, one per worker; every element of C is summed in the same order whatever the split,
/// so results do not depend on the number of threads.
/// </summary>
internal static unsafe class Gemm
{
    /// <summary>Depth of a packed block: a KC×NR panel of B (16 KB at NR 16) stays in L1.</summary>
    public const int KC = 256;

    /// <summary>Rows of A per packed block (a multiple of MR); an MC×KC block (120 KB) stays in L2.</summary>
    public const int MC = 120;

    /// <summary>Columns of B per packed block (a multiple of NR).</summary>
    public const int NC = 2048;

    // Below this many multiply-adds a product runs on the calling thread: waking workers costs more.
    private const long ParallelThreshold = 1L << 18;

    [ThreadStatic] private static float[]? _packedA;
    [ThreadStatic] private static float[]? _packedB;
    [ThreadStatic] private static Job? _job;
    [ThreadStatic] private static DotJob? _dotJob;

    /// <summary>
    /// C[m×n] = op(A)[m×k]·op(B)[k×n], added to C when <paramref name="accumulate"/>. op(A)(i,p) is
    /// A[i·lda + p], or A[p·lda + i] when <paramref name="transA"/>; likewise for B.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        bool accumulate, int threads)
    {
        if (m <= 0 || n <= 0) return;
        CheckExtent(a, transA ? k : m, transA ? m : k, lda, "A");
        CheckExtent(b, transB ? n : k, transB ? k : n, ldb, "B");
        CheckExtent(c, m, n, ldc, "C");
        if (k <= 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            return;
        }

        fixed (float* pa = a, pb = b, pc = c)
        {
            // A few rows times a large transposed B (a small batch through a Linear layer): dot
            // products of rows read both operands in place, where packing would copy (and
            // transpose) the whole weight matrix every call.
            if (transB && !transA && m <= DotMaxRows)
            {
                MultiplyByDots(m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate, threads);
                return;
            }
            var op = new Operands(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
            m = op.M;
            n = op.N;
            int nr = MicroKernel.NR;
            long work = (long)m * n * k;
            int tasks = threads <= 1 || work < ParallelThreshold ? 1 : threads;
            if (tasks == 1)
            {
                Compute(op, 0, m, 0, n);
                return;
            }
            // Split the wider dimension into whole micro-panels so no tile straddles two workers.
            int nPanels = (n + nr - 1) / nr, mPanels = (m + MicroKernel.MR - 1) / MicroKernel.MR;
            bool splitN = nPanels >= tasks || nPanels >= mPanels;
            int panels = splitN ? nPanels : mPanels;
            // A few chunks per thread, so a thread that starts late leaves work for the others.
            int chunks = Math.Min(panels, tasks * 4);
            var job = _job ??= new Job();
            job.Set(op, splitN, panels, chunks);
            WorkerPool.Shared.Run(job, chunks, tasks);
            job.Clear();
        }
    }

    /// <summary>Most rows of A for which A·Bᵀ runs as row dot products (<see cref="DotKernel"/>).</summary>
    internal const int DotMaxRows = 12;

    private static void MultiplyByDots(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int threads)
    {
        int block = DotKernel.ColumnBlock;
        int blocks = (n + block - 1) / block;
        int tasks = threads <= 1 || (long)m * n * k < ParallelThreshold ? 1 : Math.Min(threads * 4, blocks);
        if (tasks == 1)
        {
            DotKernel.Run(m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        var job = _dotJob ??= new DotJob();
        job.Set(new Operands(false, true, m, n, k, a, lda, b, ldb, c, ldc, accumulate), blocks, tasks);
        WorkerPool.Shared.Run(job, tasks, threads);
        job.Clear();
    }

    private static void CheckExtent(ReadOnlySpan<float> s, int rows, int cols, int ld, string name)
    {
        if (ld < cols) throw new ArgumentException($"GEMM: leading dimension {ld} of {name} is below its {cols} columns");
        if ((long)(rows - 1) * ld + cols > s.Length)
            throw new ArgumentException($"GEMM: {name} needs {(long)(rows - 1) * ld + cols} values for {rows}×{cols} with stride {ld}, has {s.Length}");
    }

    /// <summary>The blocked product restricted to rows [m0, m1) and columns [n0, n1) of C.</summary>
    private static void Compute(in Operands op, int m0, int m1, int n0, int n1)
    {
        int mr = MicroKernel.MR, nr = MicroKernel.NR;
        var packedA = _packedA ??= GC.AllocateUninitializedArray<float>(MC * KC, pinned: true);
        var packedB = _packedB ??= GC.AllocateUninitializedArray<float>(NC * KC, pinned: true);
        // With a single block of rows each B panel is used by one sweep only: the kernel then reads a
        // row-major B in place rather than copying it first (only a ragged last panel is packed).
        bool bInPlace = !op.TransB && m1 - m0 <= MC;
        fixed (float* ap = packedA, bp = packedB)
        {
            for (int jc = n0; jc < n1; jc += NC)
            {
                int nc = Math.Min(NC, n1 - jc);
                // Depth blocks of equal size (800 = 4 × 200, not 3 × 256 + 32): a thin last block
                // would pay a whole pass of C tile loads and stores for little work.
                int depthBlocks = (op.K + KC - 1) / KC, kcBlock = (op.K + depthBlocks - 1) / depthBlocks;
                for (int pc = 0; pc < op.K; pc += kcBlock)
                {
                    int kc = Math.Min(kcBlock, op.K - pc);
                    bool overwrite = pc == 0 && !op.Accumulate;
                    if (!bInPlace) PackB(op, pc, kc, jc, nc, bp);
                    else if (nc % nr != 0) PackB(op, pc, kc, jc + nc / nr * nr, nc % nr, bp);
                    for (int ic = m0; ic < m1; ic += MC)
                    {
                        int mc = Math.Min(MC, m1 - ic);
                        PackA(op, ic, mc, pc, kc, ap);
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int cols = Math.Min(nr, nc - jr);
                            float* bPanel;
                            int bStride;
                            if (!bInPlace)
                            {
                                bPanel = bp + (long)jr * kc;
                                bStride = nr;
                            }
                            else if (cols == nr)
                            {
                                bPanel = op.B + (long)pc * op.Ldb + jc + jr;
                                bStride = op.Ldb;
                            }
                            else
                            {
                                bPanel = bp;
                                bStride = nr;
                            }
                            for (int ir = 0; ir < mc; ir += mr)
                            {
                                int rows = Math.Min(mr, mc - ir);
                                float* cTile = op.C + (long)(ic + ir) * op.Ldc + jc + jr;
                                MicroKernel.Run(kc, ap + (long)ir * kc, bPanel, bStride, cTile, op.Ldc, rows, cols, overwrite);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Packs op(A)[ic.., pc..] into MR-row panels, each kc × MR, zero-padded below the last row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(in Operands op, int ic, int mc, int pc, int kc, float* dst)
    {
        int mr = MicroKernel.MR;
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (long)ir * kc;
            if (op.TransA)
            {
                // A(i,p) = A[p·lda + i]: each depth step reads rows contiguous values.
                float* src = op.A + (long)pc * op.Lda + ic + ir;
                for (int p = 0; p < kc; p++, src += op.Lda, panel += mr)
                {
                    int r = 0;
                    for (; r < rows; r++) panel[r] = src[r];
                    for (; r < mr; r++) panel[r] = 0;
                }
            }
            else if (rows == mr)
            {
                // Six source rows read side by side, the panel written in order.
                float* s0 = op.A + (long)(ic + ir) * op.Lda + pc;
                float* s1 = s0 + op.Lda, s2 = s1 + op.Lda, s3 = s2 + op.Lda, s4 = s3 + op.Lda, s5 = s4 + op.Lda;
                for (int p = 0; p < kc; p++, panel += 6)
                {
                    panel[0] = s0[p];
                    panel[1] = s1[p];
                    panel[2] = s2[p];
                    panel[3] = s3[p];
                    panel[4] = s4[p];
                    panel[5] = s5[p];
                }
            }
            else
            {
                for (int r = 0; r < mr; r++)
                {
                    float* d = panel + r;
                    if (r < rows)
                    {
                        float* src = op.A + (long)(ic + ir + r) * op.Lda + pc;
                        for (int p = 0; p < kc; p++) d[p * mr] = src[p];
                    }
                    else
                    {
                        for (int p = 0; p < kc; p++) d[p * mr] = 0;
                    }
                }
            }
        }
    }

    /// <summary>Packs op(B)[pc.., jc..] into NR-column panels, each kc × NR, zero-padded right of the last column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(in Operands op, int pc, int kc, int jc, int nc, float* dst)
    {
        int nr = MicroKernel.NR;
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (long)jr * kc;
            if (!op.TransB)
            {
                float* src = op.B + (long)pc * op.Ldb + jc + jr;
                if (cols == nr)
                {
                    for (int p = 0; p < kc; p++, src += op.Ldb, panel += nr)
                        new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(panel, nr));
                }
                else
                {
                    for (int p = 0; p < kc; p++, src += op.Ldb, panel += nr)
                    {
                        int c = 0;
                        for (; c < cols; c++) panel[c] = src[c];
                        for (; c < nr; c++) panel[c] = 0;
                    }
                }
            }
            else
            {
                // B(p,j) = B[j·ldb + p]: eight source rows (output columns) read side by side, so
                // each depth step writes eight neighbouring values of the panel.
                int c = 0;
                for (; c + 8 <= cols; c += 8)
                {
                    float* s0 = op.B + (long)(jc + jr + c) * op.Ldb + pc;
                    long ld = op.Ldb;
                    float* d = panel + c;
                    int p = 0;
                    if (Avx.IsSupported)
                    {
                        // Eight depth steps at a time: an 8×8 block turned in registers.
                        for (; p + 8 <= kc; p += 8, d += 8 * nr)
                            Transpose8x8(s0 + p, ld, d, nr);
                    }
                    for (; p < kc; p++, d += nr)
                    {
                        d[0] = s0[p];
                        d[1] = s0[ld + p];
                        d[2] = s0[2 * ld + p];
                        d[3] = s0[3 * ld + p];
                        d[4] = s0[4 * ld + p];
                        d[5] = s0[5 * ld + p];
                        d[6] = s0[6 * ld + p];
                        d[7] = s0[7 * ld + p];
                    }
                }
                for (; c < nr; c++)
                {
                    float* d = panel + c;
                    if (c < cols)
                    {
                        float* src = op.B + (long)(jc + jr + c) * op.Ldb + pc;
                        for (int p = 0; p < kc; p++) d[p * nr] = src[p];
                    }
                    else
                    {
                        for (int p = 0; p < kc; p++) d[p * nr] = 0;
                    }
                }
            }
        }
    }

    /// <summary>dst[p·dstStride + r] = src[r·srcStride + p] for an 8×8 block (unpack, shuffle, swap 128-bit halves).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, long srcStride, float* dst, int dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + 2 * srcStride);
        var r3 = Avx.LoadVector256(src + 3 * srcStride);
        var r4 = Avx.LoadVector256(src + 4 * srcStride);
        var r5 = Avx.LoadVector256(src + 5 * srcStride);
        var r6 = Avx.LoadVector256(src + 6 * srcStride);
        var r7 = Avx.LoadVector256(src + 7 * srcStride);
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>The arguments of one product, as raw pointers (the caller keeps them pinned).</summary>
    private readonly struct Operands(bool transA, bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        public readonly bool TransA = transA, TransB = transB, Accumulate = accumulate;
        public readonly int M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc;
        public readonly float* A = a, B = b, C = c;
    }

    /// <summary>A reusable split of one row-dot product into ranges of B rows (one per calling thread).</summary>
    private sealed class DotJob : IParallelWork
    {
        private Operands _op;
        private int _blocks, _tasks;

        public void Set(in Operands op, int blocks, int tasks)
        {
            _op = op;
            _blocks = blocks;
            _tasks = tasks;
        }

        public void Clear() => _op = default;

        public void Execute(int task)
        {
            int block = DotKernel.ColumnBlock;
            int first = (int)((long)_blocks * task / _tasks) * block, last = Math.Min(_op.N, (int)((long)_blocks * (task + 1) / _tasks) * block);
            if (first < last)
                DotKernel.Run(_op.M, first, last, _op.K, _op.A, _op.Lda, _op.B, _op.Ldb, _op.C, _op.Ldc, _op.Accumulate);
        }
    }

    /// <summary>A reusable parallel split of one product (one per calling thread, so steady state allocates nothing).</summary>
    private sealed class Job : IParallelWork
    {
        private Operands _op;
        private bool _splitN;
        private int _panels, _tasks;

        public void Set(in Operands op, bool splitN, int panels, int tasks)
        {
            _op = op;
            _splitN = splitN;
            _panels = panels;
            _tasks = tasks;
        }

        public void Clear() => _op = default;

        public void Execute(int task)
        {
            int first = (int)((long)_panels * task / _tasks), last = (int)((long)_panels * (task + 1) / _tasks);
            if (_splitN)
            {
                int nr = MicroKernel.NR;
                Compute(_op, 0, _op.M, first * nr, Math.Min(_op.N, last * nr));
            }
            else
            {
                int mr = MicroKernel.MR;
                Compute(_op, first * mr, Math.Min(_op.M, last * mr), 0, _op.N);
            }
        }
    }
}
