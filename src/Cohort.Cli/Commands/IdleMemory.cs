namespace Cohort.Cli.Commands;

/// <summary>
/// Gives back what starting a server left behind. Startup (TLS material, the host, the first JIT
/// work) leaves garbage and free GC regions that a quiet server would otherwise keep resident until
/// its next collection, which an idle server may not need for hours. Native memory freed during
/// startup (TLS handshakes, certificate work) stays in the C library's heap until it is trimmed too.
/// </summary>
internal static class IdleMemory
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
            // Compacts every generation, decommits what it frees and trims the native heap.
            Server.Hosting.MemoryHygiene.GiveBack();
        }, CancellationToken.None);
}
