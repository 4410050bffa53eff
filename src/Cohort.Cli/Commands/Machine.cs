namespace Cohort.Cli.Commands;

/// <summary>The machine a figure was measured on.</summary>
internal static class Machine
{
    /// <summary>Cores, CPU model and SIMD width.</summary>
    public static string Describe()
    {
        int bits = SimdWidthBits();
        string simd = bits == 512 ? "AVX-512" : bits == 256 ? "AVX2" : "128-bit";
        return $"{Environment.ProcessorCount} cores, {CpuModel()}, {simd}";
    }

    /// <summary>The CPU's model name from /proc/cpuinfo.</summary>
    public static string CpuModel() => CpuInfo("model name") ?? "unknown CPU";

    /// <summary>The CPU's feature flags from /proc/cpuinfo (empty where unreadable).</summary>
    public static IReadOnlyList<string> CpuFlags() => (CpuInfo("flags") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The widest vector the runtime accelerates: 512, 256 or 128 bits.</summary>
    public static int SimdWidthBits() =>
        System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? 512 : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? 256 : 128;

    private static string? CpuInfo(string key)
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
