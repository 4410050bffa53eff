using System.Runtime.InteropServices;

namespace Cohort.Cli.Commands;

/// <summary>
/// Gives back what starting a server left behind. Startup (TLS material, the host, the first JIT
/// work) leaves garbage and free GC regions that a quiet server would otherwise keep resident until
/// its next collection, which an idle server may not need for hours. Native memory freed during
/// startup (TLS handshakes, certificate work) stays in the C library's heap until it is trimmed too.
/// </summary>
internal static partial class IdleMemory
{
    /// <summary>How long after startup the collection runs: past the first connections, before anyone measures an idle server.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(2);

    /// <summary>Runs one compacting, memory-returning collection <see cref="Delay"/> after now, in the background.</summary>
    public static void TrimAfterStartup(CancellationToken ct) =>
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(Delay, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            // Aggressive: compacts every generation and decommits the freed memory instead of keeping it for later allocations.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            TrimNativeHeap();
        }, CancellationToken.None);

    /// <summary>Returns the free pages of glibc's heap to the system; a no-op on other C libraries and systems.</summary>
    private static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): nothing to trim this way.
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
