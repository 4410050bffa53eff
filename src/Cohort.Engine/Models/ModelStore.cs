using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Models;

/// <summary>
/// The global model of every round of every run, as parameter files in a folder: <c>RUN/round-NNNN.cps</c>,
/// and a stateful strategy's state after that round beside it, <c>RUN/round-NNNN.state.cps</c>. Both are
/// written atomically (temp file, flushed to disk, renamed) and carry a SHA-256 checked on load.
/// </summary>
internal sealed class ModelStore : IModelStore
{
    private readonly string _root;
    private readonly bool _flushToDisk;

    /// <summary>Uses (and creates) <paramref name="root"/>; <paramref name="flushToDisk"/> false skips the fsync of each file (it then survives a process crash, not a power loss).</summary>
    public ModelStore(string root, bool flushToDisk = true)
    {
        _root = root;
        _flushToDisk = flushToDisk;
        Directory.CreateDirectory(root);
    }

    /// <summary>Path of a round's model file (round 0 is the initial model).</summary>
    public string PathOf(string runId, int round) => Path.Combine(_root, runId, $"round-{round:D4}.cps");

    /// <inheritdoc />
    public async Task SaveAsync(string runId, int round, ParameterSet parameters, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.Combine(_root, runId));
        await ParameterSetFile.WriteAsync(PathOf(runId, round), parameters, _flushToDisk, ct);
    }

    /// <inheritdoc />
    public async Task<ParameterSet?> LoadAsync(string runId, int round, CancellationToken ct)
    {
        string path = PathOf(runId, round);
        return File.Exists(path) ? await ParameterSetFile.ReadAsync(path, ct) : null;
    }

    /// <summary>Path of the strategy state saved after a round.</summary>
    public string CheckpointPathOf(string runId, int round) => Path.Combine(_root, runId, $"round-{round:D4}.state.cps");

    /// <inheritdoc />
    public async Task SaveCheckpointAsync(string runId, int round, StrategyCheckpoint checkpoint, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.Combine(_root, runId));
        await ParameterSetFile.WriteAsync(CheckpointPathOf(runId, round), CheckpointCodec.Encode(checkpoint), _flushToDisk, ct);
    }

    /// <inheritdoc />
    public async Task<StrategyCheckpoint?> LoadCheckpointAsync(string runId, int round, CancellationToken ct)
    {
        string path = CheckpointPathOf(runId, round);
        if (!File.Exists(path)) return null;
        try
        {
            return CheckpointCodec.Decode(await ParameterSetFile.ReadAsync(path, ct));
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Path of the run's statistics (the settings its statistics step produced).</summary>
    public string StatisticsPathOf(string runId) => Path.Combine(_root, runId, "statistics.cps");

    /// <inheritdoc />
    public async Task SaveStatisticsAsync(string runId, Config statistics, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.Combine(_root, runId));
        // Written like a checkpoint: atomically, with a checksum checked on load.
        await ParameterSetFile.WriteAsync(StatisticsPathOf(runId), CheckpointCodec.Encode(new StrategyCheckpoint(StatisticsName, new ParameterSet([]), statistics)), _flushToDisk, ct);
    }

    /// <inheritdoc />
    public async Task<Config?> LoadStatisticsAsync(string runId, CancellationToken ct)
    {
        string path = StatisticsPathOf(runId);
        if (!File.Exists(path)) return null;
        try
        {
            var saved = CheckpointCodec.Decode(await ParameterSetFile.ReadAsync(path, ct));
            saved.RequireStrategy(StatisticsName);
            return saved.Values;
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>The name the statistics file is saved under, in place of a strategy's.</summary>
    internal const string StatisticsName = "statistics";

    /// <inheritdoc />
    public int LatestRound(string runId)
    {
        string dir = Path.Combine(_root, runId);
        if (!Directory.Exists(dir)) return -1;
        int best = -1;
        foreach (var f in Directory.EnumerateFiles(dir, "round-*.cps"))
        {
            if (int.TryParse(Path.GetFileNameWithoutExtension(f)["round-".Length..], out int r)) best = Math.Max(best, r);
        }
        return best;
    }
}
