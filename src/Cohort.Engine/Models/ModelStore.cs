using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Models;

/// <summary>
/// The global model of every round of every run, as parameter files in a folder: <c>RUN/round-NNNN.cps</c>,
/// and a stateful strategy's state after that round beside it, <c>RUN/round-NNNN.state.cps</c>. Both are
/// written atomically (temp file, flushed to disk, renamed) and carry a SHA-256 checked on load. The fit
/// results accepted in a round that has not completed yet are kept in <c>RUN/round-NNNN.results/</c>.
/// </summary>
internal sealed class ModelStore : IModelStore
{
    private readonly string _root;
    private readonly bool _flushToDisk;
    private readonly bool _keepRoundResults;
    // Per run, the rounds whose results folder may exist: scanned from disk the first time a run's results are
    // discarded here, then kept up to date, so that discarding after every round does not list the run's folder
    // (a model file per round: it grows with the run).
    private readonly Dictionary<string, HashSet<int>> _resultFolders = new(StringComparer.Ordinal);

    /// <summary>
    /// Uses (and creates) <paramref name="root"/>; <paramref name="flushToDisk"/> false skips the fsync of each file (it
    /// then survives a process crash, not a power loss); <paramref name="keepRoundResults"/> false keeps no fit results
    /// of unfinished rounds (a simulation, which is never resumed, has no use for them).
    /// </summary>
    public ModelStore(string root, bool flushToDisk = true, bool keepRoundResults = true)
    {
        _root = root;
        _flushToDisk = flushToDisk;
        _keepRoundResults = keepRoundResults;
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

    /// <summary>Folder of the fit results kept for a round that has not completed.</summary>
    public string RoundResultsPathOf(string runId, int round) => Path.Combine(_root, runId, ResultsFolderName(round));

    private static string ResultsFolderName(int round) => $"round-{round:D4}.results";

    /// <inheritdoc />
    public async Task SaveRoundResultAsync(string runId, int round, string key, KeptResult result, CancellationToken ct)
    {
        if (!_keepRoundResults) return;
        string dir = RoundResultsPathOf(runId, round);
        Directory.CreateDirectory(dir);
        lock (_resultFolders)
        {
            if (_resultFolders.TryGetValue(runId, out var rounds)) rounds.Add(round);
        }
        // Atomic and checksummed like a model, but never flushed to disk: it survives a crash of the process, which is what
        // it is for (a resumed round does not ask its node again). After a power loss a missing or torn one only means
        // its node trains the round again, and a flush per result would put a disk sync on the round's critical path.
        await ParameterSetFile.WriteAsync(Path.Combine(dir, FileNameOf(key)), KeptResultCodec.Encode(result), flushToDisk: false, ct);
    }

    /// <inheritdoc />
    public async Task<(IReadOnlyList<KeptResult> Results, IReadOnlyList<string> Problems)> LoadRoundResultsAsync(string runId, int round, CancellationToken ct)
    {
        string dir = RoundResultsPathOf(runId, round);
        var results = new List<KeptResult>();
        var problems = new List<string>();
        if (!Directory.Exists(dir)) return (results, problems);
        foreach (var file in Directory.EnumerateFiles(dir, "*.cps").Order(StringComparer.Ordinal))
        {
            try
            {
                results.Add(KeptResultCodec.Decode(await ParameterSetFile.ReadAsync(file, ct)));
            }
            catch (InvalidDataException e)
            {
                problems.Add($"{file}: {e.Message}");
            }
        }
        return (results, problems);
    }

    /// <inheritdoc />
    public Task DiscardRoundResultsAsync(string runId, int keepRound, CancellationToken ct)
    {
        lock (_resultFolders)
        {
            if (!_resultFolders.TryGetValue(runId, out var rounds))
            {
                string dir = Path.Combine(_root, runId);
                rounds = [];
                if (Directory.Exists(dir))
                {
                    foreach (var folder in Directory.EnumerateDirectories(dir, "round-*.results"))
                    {
                        if (RoundOf(Path.GetFileName(folder)) is { } found) rounds.Add(found);
                        else Directory.Delete(folder, recursive: true);
                    }
                }
                _resultFolders[runId] = rounds;
            }
            foreach (int round in rounds.Where(r => r != keepRound).ToArray())
            {
                string folder = RoundResultsPathOf(runId, round);
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
                rounds.Remove(round);
            }
        }
        return Task.CompletedTask;
    }

    // The round of a results folder's name (round-NNNN.results), or null for a name RoundResultsPathOf does not give.
    private static int? RoundOf(string folderName) =>
        folderName.StartsWith("round-", StringComparison.Ordinal) && folderName.EndsWith(".results", StringComparison.Ordinal)
        && int.TryParse(folderName.AsSpan("round-".Length, folderName.Length - "round-".Length - ".results".Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int round)
        && ResultsFolderName(round) == folderName
            ? round
            : null;

    // Keys are node names or arrival numbers; escaped all the same so that no key can leave the folder.
    private static string FileNameOf(string key) => Uri.EscapeDataString(key).Replace(".", "%2E", StringComparison.Ordinal) + ".cps";

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
