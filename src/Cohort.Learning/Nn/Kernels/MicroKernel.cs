using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cohort.Learning.Nn.Kernels;

/// <summary>
/// The register-blocked inner kernel of <see cref="Gemm"/>: an MR×NR tile of C held in vector
/// registers while a packed kc×MR panel of A and kc×NR panel of B stream past. Chosen once per
/// process from the hardware: 6×32 with AVX-512 (12 zmm accumulators), 6×16 with AVX2 + FMA
/// (12 ymm accumulators), a scalar 6×16 otherwise. The environment variable COHORT_NN_SIMD
/// (512, 256 or scalar) forces a narrower path, for benchmarks and tests.
/// </summary>
internal static unsafe class MicroKernel
{
    /// <summary>Rows of the C tile.</summary>
    public const int MR = 6;

    /// <summary>Which instruction set the kernel uses.</summary>
    public static readonly SimdPath Path = Choose();

    /// <summary>Columns of the C tile: 32 with AVX-512, else 16.</summary>
    public static readonly int NR = Path == SimdPath.Avx512 ? 32 : 16;

    /// <summary>The kernel's instruction set, for reports ("AVX-512", "AVX2+FMA", "scalar").</summary>
    public static string Describe() => Path switch
    {
        SimdPath.Avx512 => "AVX-512",
        SimdPath.Avx2 => "AVX2+FMA",
        _ => "scalar",
    };

    private static SimdPath Choose()
    {
        string? forced = Environment.GetEnvironmentVariable("COHORT_NN_SIMD")?.Trim();
        bool has512 = Vector512.IsHardwareAccelerated && Avx512F.IsSupported;
        bool has256 = Vector256.IsHardwareAccelerated && Fma.IsSupported;
        return forced switch
        {
            "scalar" => SimdPath.Scalar,
            "256" => has256 ? SimdPath.Avx2 : SimdPath.Scalar,
            _ => has512 ? SimdPath.Avx512 : has256 ? SimdPath.Avx2 : SimdPath.Scalar,
        };
    }

    /// <summary>
    /// C[rows×cols] (+)= Ap·Bp over depth kc, where Ap is kc×MR packed and each of the kc rows of Bp
    /// holds NR values, <paramref name="bStride"/> floats apart (NR when packed, the matrix's row stride
    /// when read in place); C is overwritten when <paramref name="overwrite"/>, else added to. Only
    /// the valid rows × cols of C are touched.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run(int kc, float* a, float* b, int bStride, float* c, int ldc, int rows, int cols, bool overwrite)
    {
        if (Path == SimdPath.Avx512) Kernel512(kc, a, b, bStride, c, ldc, rows, cols, overwrite);
        else if (Path == SimdPath.Avx2) Kernel256(kc, a, b, bStride, c, ldc, rows, cols, overwrite);
        else KernelScalar(kc, a, b, bStride, c, ldc, rows, cols, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256(int kc, float* a, float* b, int bStride, float* c, int ldc, int rows, int cols, bool overwrite)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(x, b0, c00);
            c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(x, b0, c10);
            c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(x, b0, c20);
            c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(x, b0, c30);
            c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(x, b0, c40);
            c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(x, b0, c50);
            c51 = Fma.MultiplyAdd(x, b1, c51);
            a += MR;
            b += bStride;
        }
        if (rows == MR && cols == 16)
        {
            Store256(c, c00, c01, overwrite);
            Store256(c + ldc, c10, c11, overwrite);
            Store256(c + 2 * ldc, c20, c21, overwrite);
            Store256(c + 3 * ldc, c30, c31, overwrite);
            Store256(c + 4 * ldc, c40, c41, overwrite);
            Store256(c + 5 * ldc, c50, c51, overwrite);
            return;
        }
        float* tile = stackalloc float[MR * 16];
        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72);
        c50.Store(tile + 80); c51.Store(tile + 88);
        StorePartial(tile, 16, c, ldc, rows, cols, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> lo, Vector256<float> hi, bool overwrite)
    {
        if (!overwrite)
        {
            lo += Vector256.Load(c);
            hi += Vector256.Load(c + 8);
        }
        lo.Store(c);
        hi.Store(c + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512(int kc, float* a, float* b, int bStride, float* c, int ldc, int rows, int cols, bool overwrite)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(x, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(x, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(x, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(x, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(x, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(x, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
            a += MR;
            b += bStride;
        }
        if (rows == MR && cols == 32)
        {
            Store512(c, c00, c01, overwrite);
            Store512(c + ldc, c10, c11, overwrite);
            Store512(c + 2 * ldc, c20, c21, overwrite);
            Store512(c + 3 * ldc, c30, c31, overwrite);
            Store512(c + 4 * ldc, c40, c41, overwrite);
            Store512(c + 5 * ldc, c50, c51, overwrite);
            return;
        }
        float* tile = stackalloc float[MR * 32];
        c00.Store(tile); c01.Store(tile + 16);
        c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80);
        c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144);
        c50.Store(tile + 160); c51.Store(tile + 176);
        StorePartial(tile, 32, c, ldc, rows, cols, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> lo, Vector512<float> hi, bool overwrite)
    {
        if (!overwrite)
        {
            lo += Vector512.Load(c);
            hi += Vector512.Load(c + 16);
        }
        lo.Store(c);
        hi.Store(c + 16);
    }

    private static void KernelScalar(int kc, float* a, float* b, int bStride, float* c, int ldc, int rows, int cols, bool overwrite)
    {
        float* tile = stackalloc float[MR * 16];
        new Span<float>(tile, MR * 16).Clear();
        for (int p = 0; p < kc; p++, a += MR, b += bStride)
            for (int r = 0; r < MR; r++)
            {
                float x = a[r];
                float* t = tile + r * 16;
                for (int j = 0; j < 16; j++) t[j] = MathF.FusedMultiplyAdd(x, b[j], t[j]);
            }
        StorePartial(tile, 16, c, ldc, rows, cols, overwrite);
    }

    private static void StorePartial(float* tile, int nr, float* c, int ldc, int rows, int cols, bool overwrite)
    {
        for (int r = 0; r < rows; r++)
        {
            float* src = tile + r * nr;
            float* dst = c + (long)r * ldc;
            if (overwrite)
                for (int j = 0; j < cols; j++) dst[j] = src[j];
            else
                for (int j = 0; j < cols; j++) dst[j] += src[j];
        }
    }
}

/// <summary>Instruction sets the GEMM micro-kernel can use.</summary>
internal enum SimdPath
{
    /// <summary>Portable scalar code.</summary>
    Scalar,

    /// <summary>256-bit vectors with FMA.</summary>
    Avx2,

    /// <summary>512-bit vectors (AVX-512F).</summary>
    Avx512,
}
