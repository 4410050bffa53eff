namespace Cohort.Parameters;

/// <summary>
/// Gives the memory of models no longer used back to the system before a large model's worth of new
/// memory is written. Freed large arrays otherwise stay resident: the runtime keeps their regions for
/// reuse, and a native buffer (the aggregation's accumulator) or a model that arrives before the next
/// collection is resident beside them.
/// </summary>
internal static class ModelMemory
{
    /// <summary>Models at least this large get the garbage collected (and its memory decommitted) first; below it a collection costs more than it saves.</summary>
    public const long ReclaimModelBytes = 64L << 20;

    /// <summary>Collects every generation, compacting and decommitting what is free, when <paramref name="modelBytes"/> is at least <see cref="ReclaimModelBytes"/>.</summary>
    public static void ReclaimBefore(long modelBytes)
    {
        if (modelBytes < ReclaimModelBytes) return;
        // Aggressive: a plain full collection frees the last model but keeps its region committed (resident);
        // measured with a 256 MiB model, the server's peak fell from 4.2 to 3.3 models above idle.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
