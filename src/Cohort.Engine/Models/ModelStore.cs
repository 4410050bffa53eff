using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Models;

/// <summary>
/// The global model of every round of every run, as parameter files in a folder: <c>RUN/round-NNNN.cps</c>,
/// and a stateful strategy's state after that round beside it, <c>RUN/round-NNNN.state.cps</c>. Both are
/// written atomically (temp file, flushed to disk, renamed; a small one over a spare, flushed behind its round, see
/// <see cref="SpareFiles"/>) and carry a SHA-256 checked on load. The fit
/// results accepted in a round that has not completed yet are kept in <c>RUN/round-NNNN.results</c>.
/// </summary>
internal sealed class ModelStore : IModelStore, IDisposable
{
    private readonly string _root;
    private readonly bool _flushToDisk;
    private readonly bool _keepRoundResults;
    private readonly long _storedCheckpointBytes;
    // Per run, the rounds whose results file may exist: scanned from disk the first time a run's results are
    // discarded here, then kept up to date, so that discarding after every round does not list the run's folder
    // (a model file per round: it grows with the run).
    private readonly Dictionary<string, HashSet<int>> _resultFolders = new(StringComparer.Ordinal);
    // Per run, the results file of its current round, held open from the round's first kept result until the round is
    // discarded (or the run closes): the round's results are written through the one handle, not an open and a close each.
    private readonly Dictionary<string, ResultsFile> _resultsFiles = new(StringComparer.Ordinal);

    private sealed record ResultsFile(string Path, SafeFileHandle Handle);

    private readonly SpareFiles _spares;

    /// <summary>
    /// Uses (and creates) <paramref name="root"/>; <paramref name="flushToDisk"/> false skips the fsync of each file (it
    /// then survives a process crash, not a power loss); <paramref name="keepRoundResults"/> false keeps no fit results
    /// of unfinished rounds (a simulation, which is never resumed, has no use for them).
    /// </summary>
    public ModelStore(string root, bool flushToDisk = true, bool keepRoundResults = true) : this(root, flushToDisk, keepRoundResults, StoredCheckpointBytes)
    {
    }

    /// <summary>
    /// As the other constructor, with checkpoints of <paramref name="storedCheckpointBytes"/> or more read back a range at a
    /// time, and <paramref name="flush"/> (null: <c>fdatasync</c>) flushing what is written over a spare.
    /// </summary>
    internal ModelStore(string root, bool flushToDisk, bool keepRoundResults, long storedCheckpointBytes, Action<string>? flush = null)
    {
        _spares = new SpareFiles(flush);
        _storedCheckpointBytes = storedCheckpointBytes;
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
        await WriteAsync(Path.Combine(_root, runId, SpareModelName), PathOf(runId, round), parameters, ct);
    }

    // The run's next model and next strategy state are written over spares made ahead (SpareFiles) when they are small
    // and flushed to disk: one of each per round, each flush otherwise waiting for the file system's journal. Their flush
    // runs behind the round; the run's next save of each waits for it.
    private const string SpareModelName = "model.spare";
    private const string SpareStateName = "state.spare";

    /// <inheritdoc />
    public Task FlushAsync(string runId) => _spares.FlushedUnderAsync(Path.Combine(_root, runId));

    /// <inheritdoc />
    public Task CloseRunAsync(string runId)
    {
        lock (_resultFolders)
        {
            CloseResultsFile(runId);
            // Always empty: a round's results file is emptied before it is renamed to it. A round still unfinished keeps its own.
            if (File.Exists(SpareResultsPathOf(runId))) File.Delete(SpareResultsPathOf(runId));
        }
        return RemoveSparesAsync(runId);
    }

    private async Task RemoveSparesAsync(string runId)
    {
        await _spares.RemoveUnderAsync(Path.Combine(_root, runId));
        // Spares an earlier process made (it crashed, or stopped with the run unfinished) are not in its list.
        foreach (string name in new[] { SpareModelName, SpareStateName })
        {
            try
            {
                File.Delete(Path.Combine(_root, runId, name));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left behind: harmless, and a later run of the folder writes over it.
            }
        }
    }

    /// <summary>
    /// Closes the results files of rounds still unfinished (what a stopped server leaves); their records stay on disk for
    /// the run's resumption, and a later write opens the file again.
    /// </summary>
    public void Dispose()
    {
        lock (_resultFolders)
        {
            foreach (string runId in _resultsFiles.Keys.ToArray()) CloseResultsFile(runId);
        }
    }

    private async Task WriteAsync(string spare, string path, ParameterSet parameters, CancellationToken ct)
    {
        if (!_flushToDisk || parameters.ByteCount > ParameterSetFile.SpareFileBytes)
        {
            await ParameterSetFile.WriteAsync(path, parameters, _flushToDisk, ct);
            return;
        }
        ct.ThrowIfCancellationRequested();
        if (!await _spares.TryWriteAsync(spare, path, parameters, ct)) await ParameterSetFile.WriteAsync(path, parameters, flushToDisk: true, ct);
        _spares.Prepare(spare, ParameterSetFile.LengthOf(parameters));
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
        // State kept in a file (a large model's optimiser moments) is streamed from it into the checkpoint: the same bytes.
        if (checkpoint.Stored is { } stored)
            await ParameterSetFile.WriteAsync(CheckpointPathOf(runId, round), CheckpointCodec.StoredState(stored), new ParameterSet([CheckpointCodec.Meta(checkpoint)]), _flushToDisk, ct);
        else
            await WriteAsync(Path.Combine(_root, runId, SpareStateName), CheckpointPathOf(runId, round), CheckpointCodec.EncodeForWriting(checkpoint), ct);
    }

    /// <inheritdoc />
    public async Task<StrategyCheckpoint?> LoadCheckpointAsync(string runId, int round, CancellationToken ct)
    {
        string path = CheckpointPathOf(runId, round);
        if (!File.Exists(path)) return null;
        try
        {
            // A large one stays in its file, checked and then read a range at a time by the strategy it is restored into.
            return new FileInfo(path).Length >= _storedCheckpointBytes
                ? CheckpointCodec.Decode(await ParameterSetFile.OpenStoredAsync(path, ct))
                : CheckpointCodec.Decode(await ParameterSetFile.ReadAsync(path, ct));
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Checkpoint files from this size on are read back a range at a time rather than whole (<see cref="LoadCheckpointAsync"/>):
    /// a large model's optimiser moments are then copied into the strategy's own state file, never all in memory.
    /// </summary>
    public const long StoredCheckpointBytes = 64L << 20;

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

    /// <summary>
    /// File of the fit results kept for a round that has not completed: one record per result, appended as it arrives
    /// (a folder of one file per result in data folders written before; still read and discarded).
    /// </summary>
    public string RoundResultsPathOf(string runId, int round) => Path.Combine(_root, runId, ResultsName(round));

    private static string ResultsName(int round) => $"round-{round:D4}.results";

    // A discarded round's results file, emptied, waiting in the run's folder for the next round: creating and deleting
    // a file every round made the file system allocate and free an inode each time (on an ext4 without a journal,
    // every allocation skips the inodes freed in the last minute or so, a cost that grows with the round rate).
    private const string SpareResultsName = "kept-results.spare";

    private string SpareResultsPathOf(string runId) => Path.Combine(_root, runId, SpareResultsName);

    /// <inheritdoc />
    public async Task SaveRoundResultAsync(string runId, int round, string key, KeptResult result, CancellationToken ct)
    {
        if (!_keepRoundResults) return;
        string path = RoundResultsPathOf(runId, round);
        lock (_resultFolders)
        {
            if (_resultFolders.TryGetValue(runId, out var rounds)) rounds.Add(round);
        }
        // Checksummed like a model, but never flushed to disk: it survives a crash of the process, which is what it is for
        // (a resumed round does not ask its node again). After a power loss a missing or torn one only means its node
        // trains the round again, and a flush per result would put a disk sync on the round's critical path.
        // Appended to the round's one file, in one write: a file created per result (and deleted after the round) cost the
        // server more than anything else it did per round with a small model.
        var encoded = KeptResultCodec.Encode(result);
        byte[] keyBytes = Encoding.UTF8.GetBytes(key);
        // A record: the key's length (int32) and the result's (int64), little-endian, the key, the result in the
        // parameter file format. A small one goes out in one write (its buffer sized for it at once, the file's header and
        // the scalars' few hundred bytes included), through the file's open handle; a large one is streamed and its length
        // set after.
        if (encoded.ByteCount <= 1 << 20)
        {
            var memory = new MemoryStream((int)encoded.ByteCount + 4096 + keyBytes.Length);
            memory.Write(new byte[RecordHeader]);
            memory.Write(keyBytes);
            await ParameterSetFile.WriteAsync(memory, encoded, ct);
            BinaryPrimitives.WriteInt32LittleEndian(memory.GetBuffer(), keyBytes.Length);
            BinaryPrimitives.WriteInt64LittleEndian(memory.GetBuffer().AsSpan(4), memory.Length - RecordHeader - keyBytes.Length);
            // The file taken and written under one lock: a discard or a close between the two would leave the record in
            // the spare, or the handle closed.
            lock (_resultFolders)
            {
                if (ResultsFileOf(runId, path) is { } results)
                {
                    RandomAccess.Write(results.Handle, memory.GetBuffer().AsSpan(0, (int)memory.Length), RandomAccess.GetLength(results.Handle));
                    return;
                }
            }
            await WriteToFolderAsync(path, key, encoded, ct);
            return;
        }
        bool inFolder;
        lock (_resultFolders) inFolder = ResultsFileOf(runId, path) is null;
        if (inFolder)
        {
            await WriteToFolderAsync(path, key, encoded, ct);
            return;
        }
        using var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, bufferSize: 0);
        long start = file.Seek(0, SeekOrigin.End);
        var target = new BufferedStream(file, 1 << 16);
        // Until its length is set, a streamed record's key length reads -1: cut short, if the process dies before that.
        target.Write([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0]);
        target.Write(keyBytes);
        await ParameterSetFile.WriteAsync(target, encoded, ct);
        await target.FlushAsync(ct);
        var header = new byte[RecordHeader];
        BinaryPrimitives.WriteInt32LittleEndian(header, keyBytes.Length);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(4), file.Position - start - RecordHeader - keyBytes.Length);
        file.Seek(start, SeekOrigin.Begin);
        file.Write(header);
    }

    // A round interrupted before the one-file form: its folder goes on, a file per result.
    private static Task WriteToFolderAsync(string path, string key, ParameterSet encoded, CancellationToken ct) =>
        ParameterSetFile.WriteAsync(Path.Combine(path, FileNameOf(key)), encoded, flushToDisk: false, ct);

    // The run's results file for the round whose file is at path, held open (null: the round has a folder of the older
    // form). The run's spare is renamed to it when it does not exist yet; another round's file still open is closed.
    // Called, and the handle written, under the lock on _resultFolders.
    private ResultsFile? ResultsFileOf(string runId, string path)
    {
        if (_resultsFiles.TryGetValue(runId, out var open))
        {
            if (open.Path == path) return open;
            CloseResultsFile(runId);
        }
        if (Directory.Exists(path)) return null;
        Directory.CreateDirectory(Path.Combine(_root, runId));
        TakeSpareResultsFile(runId, path);
        var results = new ResultsFile(path, File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read));
        _resultsFiles[runId] = results;
        return results;
    }

    private void CloseResultsFile(string runId)
    {
        if (_resultsFiles.Remove(runId, out var open)) open.Handle.Dispose();
    }

    private const int RecordHeader = 12;

    /// <inheritdoc />
    public async Task<(IReadOnlyList<KeptResult> Results, IReadOnlyList<string> Problems)> LoadRoundResultsAsync(string runId, int round, CancellationToken ct)
    {
        string path = RoundResultsPathOf(runId, round);
        var results = new List<KeptResult>();
        var problems = new List<string>();
        if (Directory.Exists(path))
        {
            foreach (var file in Directory.EnumerateFiles(path, "*.cps").Order(StringComparer.Ordinal))
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
        if (!File.Exists(path)) return (results, problems);
        // The last record of each key wins (a node asked again in the same round), in the order of their keys as file names.
        var records = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0))
        {
            var header = new byte[RecordHeader];
            long at = 0, size = file.Length;
            while (at < size)
            {
                file.Position = at;
                int keyLength = size - at >= RecordHeader && file.Read(header) == RecordHeader ? BinaryPrimitives.ReadInt32LittleEndian(header) : -1;
                long length = keyLength >= 0 ? BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(4)) : -1;
                if (keyLength < 0 || length < 0 || keyLength > size - at - RecordHeader || length > size - at - RecordHeader - keyLength)
                {
                    // Cut short by a crash during its write: dropped here and from the file, so that the round's next
                    // results follow the last whole one.
                    problems.Add($"{path}: the last kept result is cut short at byte {at} of {size} (a crash during its write)");
                    file.SetLength(at);
                    break;
                }
                var keyBytes = new byte[keyLength];
                file.ReadExactly(keyBytes);
                records[Encoding.UTF8.GetString(keyBytes)] = at;
                at += RecordHeader + keyLength + length;
            }
        }
        if (records.Count == 0) return (results, problems);
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: false))
        {
            foreach (var (key, at) in records.OrderBy(r => FileNameOf(r.Key), StringComparer.Ordinal))
            {
                file.Position = at + RecordHeader + Encoding.UTF8.GetByteCount(key);
                try
                {
                    results.Add(KeptResultCodec.Decode(await ParameterSetFile.ReadAsync(file, ct)));
                }
                catch (InvalidDataException e)
                {
                    problems.Add($"{path}: the result kept for {key}: {e.Message}");
                }
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
                    foreach (var entry in Directory.EnumerateFileSystemEntries(dir, "round-*.results"))
                    {
                        if (RoundOf(Path.GetFileName(entry)) is { } found) rounds.Add(found);
                        else Delete(entry);
                    }
                }
                _resultFolders[runId] = rounds;
            }
            foreach (int round in rounds.Where(r => r != keepRound).ToArray())
            {
                string path = RoundResultsPathOf(runId, round);
                if (!KeepAsSpare(runId, path)) Delete(path);
                rounds.Remove(round);
            }
        }
        return Task.CompletedTask;
    }

    // Empties a round's results file and keeps it for the next round, unless one is kept already (or it is a folder of the
    // older form). Emptied before it is renamed: a crash between the two leaves a round already done with an empty file.
    private bool KeepAsSpare(string runId, string path)
    {
        string spare = SpareResultsPathOf(runId);
        // The round's file, when this store holds it open, is closed with its round: the next round's first result opens
        // the spare by name, and a handle kept past the round could outlive the name (another store on the folder taking
        // the spare meanwhile).
        if (_resultsFiles.TryGetValue(runId, out var open) && open.Path == path) CloseResultsFile(runId);
        if (!File.Exists(path) || File.Exists(spare)) return false;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read, bufferSize: 0))
            file.SetLength(0);
        File.Move(path, spare);
        return true;
    }

    // The round's first result goes into the spare file, when there is one, rather than into a new file.
    private void TakeSpareResultsFile(string runId, string path)
    {
        string spare = SpareResultsPathOf(runId);
        lock (_resultFolders)
        {
            if (File.Exists(path) || !File.Exists(spare)) return;
            File.Move(spare, path);
        }
    }

    private static void Delete(string path)
    {
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        else File.Delete(path);
    }

    // The round of a results file's name (round-NNNN.results), or null for a name RoundResultsPathOf does not give.
    private static int? RoundOf(string name) =>
        name.StartsWith("round-", StringComparison.Ordinal) && name.EndsWith(".results", StringComparison.Ordinal)
        && int.TryParse(name.AsSpan("round-".Length, name.Length - "round-".Length - ".results".Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int round)
        && ResultsName(round) == name
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
