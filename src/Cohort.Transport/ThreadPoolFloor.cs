namespace Cohort.Transport;

/// <summary>
/// Raises the thread pool's minimum so that a few blocked threads cannot stall a round. SQLite, file flushes and
/// the audit ledger block the thread they run on; at the default minimum (one thread per core) two such calls on
/// a two-core machine leave gRPC's continuations waiting for the pool's starvation check, which adds one thread
/// about every half second. Threads up to the minimum start at once, when work waits, and cost nothing before.
/// </summary>
internal static class ThreadPoolFloor
{
    /// <summary>The least number of worker threads the pool starts without delay.</summary>
    public const int MinimumWorkers = 8;

    /// <summary>Raises the pool's minimum of worker threads to <see cref="MinimumWorkers"/> (never lowers it).</summary>
    public static void Raise()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        if (workers < MinimumWorkers) ThreadPool.SetMinThreads(MinimumWorkers, io);
    }
}
