using Cohort.Apps;
using Cohort.Parameters;

namespace Cohort.Strategies;

/// <summary>Server-side evaluation of the global model on data the server holds.</summary>
public delegate Task<EvaluateResult?> CentralEvaluator(int round, ParameterSet global, CancellationToken ct);

/// <summary>What the server offers a strategy when it creates one.</summary>
/// <param name="InitialParameters">Starting model, or null to ask a node.</param>
/// <param name="CentralEvaluator">Server-side evaluation, or null.</param>
/// <param name="AggregationBufferBytes">Memory a sum-based strategy may hold in pending results to fold them in batches (0: fold each result at once, one model of memory).</param>
public sealed record StrategyServices(ParameterSet? InitialParameters = null, CentralEvaluator? CentralEvaluator = null, long AggregationBufferBytes = 0)
{
    /// <summary>The server's side of client apps (statistics before round 1, central evaluation on a server-held file), by app name.</summary>
    public IReadOnlyList<IServerApp> ServerApps { get; init; } = [];

    /// <summary>
    /// Memory the strategies that need every update (median, trimmed mean, Krum, Bulyan) may hold in a
    /// round's updates; past it they keep updates on disk in <see cref="SpillFolder"/> and read them a
    /// chunk at a time, which gives the same model bit for bit.
    /// </summary>
    public long UpdateMemoryBytes { get; init; } = DefaultUpdateMemoryBytes;

    /// <summary>
    /// Disk the sum-based strategies may keep in a round's fit results received to files (spooled), to
    /// fold them when the round completes one accumulator segment at a time instead of as they arrive:
    /// the exact accumulator (twice the model) is then never resident whole. Results past it are folded
    /// as they arrive; 0 folds every one at once.
    /// </summary>
    public long SpoolHoldBytes { get; init; } = DefaultSpoolHoldBytes;

    /// <summary>Folder for updates kept on disk (unlinked files, gone when the round ends); null uses the system's temporary folder.</summary>
    public string? SpillFolder { get; init; }

    /// <summary>
    /// Model size (bytes) from which the strategies with model-sized state between rounds keep it in scratch
    /// files in <see cref="SpillFolder"/> rather than in memory (FedAdam, FedYogi and FedAdagrad: the two
    /// moments, twice the model), read and written a window at a time as the step runs. 0 keeps it on disk
    /// at any size, <see cref="long.MaxValue"/> never.
    /// </summary>
    internal long StateOnDiskBytes { get; init; } = DefaultStateOnDiskBytes;

    /// <summary>
    /// The default of <see cref="StateOnDiskBytes"/> (64 MiB): past it the state's file reads and writes cost
    /// a few tens of milliseconds a round against seconds of transfer, and the two moments in memory would be
    /// the largest part of the server's memory; below it they are smaller than what the runtime itself holds.
    /// </summary>
    internal const long DefaultStateOnDiskBytes = 64L << 20;

    /// <summary>Nothing offered.</summary>
    public static StrategyServices None { get; } = new();

    /// <summary>
    /// The pending-result budget servers and simulations use by default: folding a batch of results
    /// tile by tile reads them at about 0.7× memory bandwidth against about 0.3× one at a time
    /// (<c>cohort bench aggregate</c>), for at most this much memory held in waiting results.
    /// </summary>
    public const long DefaultAggregationBufferBytes = 256L << 20;

    /// <summary>The spooled-result disk budget servers use by default (8 GiB).</summary>
    public const long DefaultSpoolHoldBytes = 8L << 30;

    /// <summary>The update memory budget servers and simulations use by default (1 GiB).</summary>
    public const long DefaultUpdateMemoryBytes = 1L << 30;
}
