namespace Cohort.Learning.Nn.Kernels;

/// <summary>Which GEMM micro-kernel this process uses, for benchmark reports.</summary>
internal static class MicroKernelInfo
{
    /// <summary>"AVX-512 6×32", "AVX2+FMA 6×16" or "scalar 6×16".</summary>
    public static string Describe() => $"{MicroKernel.Describe()} {MicroKernel.MR}×{MicroKernel.NR}";
}
