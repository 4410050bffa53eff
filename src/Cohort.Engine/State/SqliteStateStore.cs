using System.Globalization;
using System.Runtime.CompilerServices;
using Cohort.Records;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Cohort.Engine.State;

/// <summary>The embedded default state store: one SQLite file in write-ahead-log mode.</summary>
internal sealed class SqliteStateStore : IStateStore, IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly bool _syncRounds;
    private readonly SqliteRoundWriter _rounds;

    /// <summary>Uses (and creates) the database file at <paramref name="path"/>.</summary>
    /// <param name="path">The database file.</param>
    /// <param name="syncRounds">Fsync the write-ahead log when a round is recorded, so every finished round survives a power loss; without it every write survives a crash of the process, and a power loss may take the last rounds, which a resumed run then repeats.</param>
    public SqliteStateStore(string path, bool syncRounds = true)
    {
        Path = path;
        _syncRounds = syncRounds;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ToString();
        _rounds = new SqliteRoundWriter(OpenForRounds);
    }

    // The round writer's own connection, set up as every other.
    private SqliteConnection OpenForRounds()
    {
        // Its own, not the pool's: closed after a failure, it must not go back to the pool with what the failure left.
        var c = new SqliteConnection(new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString());
        try
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = Setup;
            cmd.ExecuteNonQuery();
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Closes the round writer's connection and the pool's idle ones for this file, so a server stopped inside a longer-lived
    /// process holds no handle on its database; a call after this opens connections again.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        _rounds.Dispose();
        using (var c = new SqliteConnection(_connectionString)) SqliteConnection.ClearPool(c);
        return ValueTask.CompletedTask;
    }

    private const string Setup = "PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;";

    // The native connections the pool has handed out and that this store has set up. The settings below last
    // as long as the native connection, which the pool keeps open across SqliteConnection objects: setting
    // them on every open cost three statements per store call, several times a round.
    private readonly ConditionalWeakTable<sqlite3, object> _prepared = [];

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct);
        if (c.Handle is { } handle && _prepared.TryGetValue(handle, out _)) return c;
        using var cmd = c.CreateCommand();
        cmd.CommandText = Setup;
        await cmd.ExecuteNonQueryAsync(ct);
        if (c.Handle is { } opened) _prepared.AddOrUpdate(opened, this);
        return c;
    }

    /// <summary>The <c>synchronous</c> level (1 NORMAL, 2 FULL) of the connection that writes round records.</summary>
    internal Task<long> SynchronousLevelAsync(CancellationToken ct) =>
        _rounds.WriteAsync(s => (long)s.Pragma("PRAGMA synchronous")!);

    /// <summary>Sets the connection up again at its next open (a statement that changes its settings failed midway).</summary>
    private void Forget(SqliteConnection c)
    {
        if (c.Handle is { } handle) _prepared.Remove(handle);
    }

    // Returns the rows changed.
    private async Task<int> ExecuteAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] args)
    {
        await using var c = await OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private async Task<List<T>> QueryAsync<T>(string sql, Func<SqliteDataReader, T> read, CancellationToken ct, params (string Name, object? Value)[] args)
    {
        await using var c = await OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<T>();
        while (await r.ReadAsync(ct)) list.Add(read(r));
        return list;
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>True when <see cref="InitializeAsync"/> created the schema in an empty (or missing) file.</summary>
    public bool CreatedEmpty { get; private set; }

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken ct)
    {
        try
        {
            await CheckIntegrityAsync(ct);
            await ExecuteAsync("PRAGMA journal_mode=WAL;", ct);
            await MigrateAsync(ct);
        }
        catch (SqliteException e)
        {
            throw new StateIntegrityException($"{Path} is not a readable SQLite database ({e.Message}); {RepairHint}", e);
        }
    }

    /// <summary>What an operator can do about a damaged or empty database.</summary>
    public string RepairHint =>
        $"restore {System.IO.Path.GetFileName(Path)} from a backup (docs/architecture.md, State and recovery), or start with --repair to move it aside and begin with an empty state (node tokens must then be created again)";

    private async Task CheckIntegrityAsync(CancellationToken ct)
    {
        if (!File.Exists(Path) || new FileInfo(Path).Length == 0) return;
        var problems = await QueryAsync("PRAGMA integrity_check;", r => r.GetString(0), ct);
        if (problems is not ["ok"])
            throw new StateIntegrityException($"{Path} is damaged: {string.Join("; ", problems.Take(3))}; {RepairHint}");
    }

    // Migration i takes the schema from version i to i + 1; version 1 is the schema before versions were recorded.
    private static readonly string[] Migrations =
    [
        """

            CREATE TABLE IF NOT EXISTS nodes (
              name TEXT PRIMARY KEY, token_hash TEXT UNIQUE, status TEXT NOT NULL DEFAULT 'unknown',
              last_seen TEXT, address TEXT, app TEXT, version TEXT);
            CREATE TABLE IF NOT EXISTS runs (
              id TEXT PRIMARY KEY, name TEXT NOT NULL, experiment TEXT NOT NULL, app TEXT NOT NULL, strategy TEXT NOT NULL,
              status TEXT NOT NULL, rounds_planned INTEGER NOT NULL, rounds_done INTEGER NOT NULL, plan_yaml TEXT NOT NULL,
              created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, error TEXT);
            CREATE TABLE IF NOT EXISTS rounds (
              run_id TEXT NOT NULL REFERENCES runs(id), round INTEGER NOT NULL, status TEXT NOT NULL,
              started_at TEXT NOT NULL, finished_at TEXT, aggregation_seconds REAL NOT NULL, loss REAL,
              metrics TEXT, fit_metrics TEXT, central_loss REAL, central_metrics TEXT, error TEXT,
              PRIMARY KEY (run_id, round));
            CREATE TABLE IF NOT EXISTS node_results (
              id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(id), round INTEGER NOT NULL,
              node TEXT NOT NULL, phase TEXT NOT NULL, ok INTEGER NOT NULL, error TEXT, examples INTEGER NOT NULL,
              loss REAL, metrics TEXT, duration_seconds REAL NOT NULL, upload_bytes INTEGER NOT NULL, at TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS node_results_run ON node_results(run_id, round);
            CREATE TABLE IF NOT EXISTS events (
              id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, run_id TEXT, kind TEXT NOT NULL, message TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS events_run ON events(run_id);
            """,
        // Version 2: seconds per round phase, JSON like the metrics columns.
        "ALTER TABLE rounds ADD COLUMN phases TEXT;",
        // Version 3: who submitted each run (a site's policy may serve only some submitters).
        "ALTER TABLE runs ADD COLUMN submitter TEXT;",
        // Version 4: when each node token was issued (cohort token list).
        "ALTER TABLE nodes ADD COLUMN token_created TEXT;",
    ];

    private async Task MigrateAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = (SqliteTransaction)await c.BeginTransactionAsync(ct);
        async Task<long> ScalarAsync(string sql)
        {
            await using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct) ?? 0L, CultureInfo.InvariantCulture);
        }
        async Task RunAsync(string sql)
        {
            await using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            await cmd.ExecuteNonQueryAsync(ct);
        }
        bool hasTables = await ScalarAsync("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('runs', 'schema_version')") > 0;
        CreatedEmpty = !hasTables;
        await RunAsync("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        long version = await ScalarAsync("SELECT coalesce(max(version), 0) FROM schema_version");
        // A database from before versions were recorded has the version-1 tables.
        if (version == 0 && await ScalarAsync("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'") > 0) version = 1;
        if (version > SchemaVersion.Current) throw new StateIntegrityException(SchemaVersion.TooNew(Path, version));
        for (long v = version; v < Migrations.Length; v++) await RunAsync(Migrations[v]);
        await RunAsync("DELETE FROM schema_version");
        await RunAsync($"INSERT INTO schema_version(version) VALUES ({SchemaVersion.Current})");
        await tx.CommitAsync(ct);
    }

    /// <inheritdoc />
    public Task SetNodeTokenAsync(string node, string tokenHash, CancellationToken ct) => ExecuteAsync("""
        INSERT INTO nodes(name, token_hash, token_created) VALUES ($n, $h, $c)
        ON CONFLICT(name) DO UPDATE SET token_hash = excluded.token_hash, token_created = excluded.token_created
        """, ct, ("$n", node), ("$h", tokenHash), ("$c", Time(DateTimeOffset.UtcNow)));

    /// <inheritdoc />
    public async Task<IReadOnlyList<NodeTokenRecord>> ListNodeTokensAsync(CancellationToken ct) => await QueryAsync(
        "SELECT name, token_created, last_seen FROM nodes WHERE token_hash IS NOT NULL ORDER BY name",
        r => new NodeTokenRecord(r.GetString(0), TimeOrNull(r, 1), TimeOrNull(r, 2)), ct);

    /// <inheritdoc />
    public async Task<bool> RevokeNodeTokenAsync(string node, CancellationToken ct) =>
        await ExecuteAsync("UPDATE nodes SET token_hash = NULL, token_created = NULL WHERE name = $n AND token_hash IS NOT NULL", ct, ("$n", node)) > 0;

    /// <inheritdoc />
    public async Task<bool> RemoveNodeAsync(string node, CancellationToken ct) =>
        await ExecuteAsync("DELETE FROM nodes WHERE name = $n", ct, ("$n", node)) > 0;

    /// <inheritdoc />
    public async Task<string?> FindNodeByTokenHashAsync(string tokenHash, CancellationToken ct) =>
        (await QueryAsync("SELECT name FROM nodes WHERE token_hash = $h", r => r.GetString(0), ct, ("$h", tokenHash))).FirstOrDefault();

    /// <inheritdoc />
    public Task UpdateNodeAsync(NodeRecord node, CancellationToken ct) => ExecuteAsync("""
        INSERT INTO nodes(name, status, last_seen, address, app, version) VALUES ($n, $s, $l, $a, $p, $v)
        ON CONFLICT(name) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen,
          address = COALESCE(excluded.address, nodes.address), app = COALESCE(excluded.app, nodes.app),
          version = COALESCE(excluded.version, nodes.version)
        """, ct, ("$n", node.Name), ("$s", node.Status.ToText()), ("$l", Time(node.LastSeen)), ("$a", node.Address), ("$p", node.App), ("$v", node.Version));

    /// <inheritdoc />
    public async Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken ct) => await QueryAsync(
        "SELECT name, status, last_seen, address, app, version FROM nodes ORDER BY name",
        r => new NodeRecord(r.GetString(0), StatusText.StoredNodeStatus(r.GetString(1), "nodes"), TimeOrNull(r, 2), StringOrNull(r, 3), StringOrNull(r, 4), StringOrNull(r, 5)), ct);

    // An upsert, not INSERT OR REPLACE: a replace deletes the row first, and with foreign keys on, deleting a run
    // counts its rounds and node results (twice), so each save cost time in proportion to the rounds done.
    internal const string SaveRunSql = """
        INSERT INTO runs(id, name, experiment, app, strategy, status, rounds_planned, rounds_done, plan_yaml, created_at, started_at, finished_at, error, submitter)
        VALUES ($id, $name, $exp, $app, $strategy, $status, $planned, $done, $plan, $created, $started, $finished, $error, $submitter)
        ON CONFLICT(id) DO UPDATE SET name = excluded.name, experiment = excluded.experiment, app = excluded.app,
          strategy = excluded.strategy, status = excluded.status, rounds_planned = excluded.rounds_planned,
          rounds_done = excluded.rounds_done, plan_yaml = excluded.plan_yaml, created_at = excluded.created_at,
          started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error, submitter = excluded.submitter
        """;

    /// <inheritdoc />
    public Task SaveRunAsync(RunRecord run, CancellationToken ct) => ExecuteAsync(SaveRunSql, ct, ("$id", run.Id), ("$name", run.Name), ("$exp", run.Experiment), ("$app", run.App), ("$strategy", run.Strategy),
        ("$status", run.Status.ToText()), ("$planned", run.RoundsPlanned), ("$done", run.RoundsDone), ("$plan", run.PlanYaml),
        ("$created", Time(run.CreatedAt)), ("$started", Time(run.StartedAt)), ("$finished", Time(run.FinishedAt)), ("$error", run.Error), ("$submitter", run.Submitter));

    private const string RunColumns = "id, name, experiment, app, strategy, status, rounds_planned, rounds_done, plan_yaml, created_at, started_at, finished_at, error, submitter";

    private static RunRecord ReadRun(SqliteDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), StatusText.StoredRunStatus(r.GetString(5), "runs"),
        r.GetInt32(6), r.GetInt32(7), r.GetString(8), TimeOrNull(r, 9)!.Value, TimeOrNull(r, 10), TimeOrNull(r, 11), StringOrNull(r, 12))
    {
        Submitter = StringOrNull(r, 13),
    };

    /// <inheritdoc />
    public async Task<RunRecord?> GetRunAsync(string id, CancellationToken ct) =>
        (await QueryAsync($"SELECT {RunColumns} FROM runs WHERE id = $id", ReadRun, ct, ("$id", id))).FirstOrDefault();

    /// <inheritdoc />
    public Task<RunRecord?> SetRoundsDoneAsync(string runId, int roundsDone, CancellationToken ct)
    {
        return _rounds.WriteAsync(s =>
        {
            ct.ThrowIfCancellationRequested();
            using var r = s.Command(SetRoundsDoneSql, ("$id", runId), ("$done", roundsDone)).ExecuteReader();
            // The update is made at the first step; the run's id is its key, so there is at most the one row.
            return r.Read() ? ReadRun(r) : null;
        });
    }

    private const string SetRoundsDoneSql = $"UPDATE runs SET rounds_done = $done WHERE id = $id RETURNING {RunColumns}";

    /// <inheritdoc />
    public async Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunStatus? status, CancellationToken ct) => status is null
        ? await QueryAsync($"SELECT {RunColumns} FROM runs ORDER BY created_at DESC, id DESC", ReadRun, ct)
        : await QueryAsync($"SELECT {RunColumns} FROM runs WHERE status = $s ORDER BY created_at DESC, id DESC", ReadRun, ct, ("$s", status.Value.ToText()));

    // An upsert like the run's: the row is updated in place rather than deleted and inserted again.
    internal const string SaveRoundSql = """
        INSERT INTO rounds(run_id, round, status, started_at, finished_at, aggregation_seconds, loss, metrics, fit_metrics, central_loss, central_metrics, error, phases)
        VALUES ($run, $round, $status, $started, $finished, $agg, $loss, $metrics, $fit, $closs, $cmetrics, $error, $phases)
        ON CONFLICT(run_id, round) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
          finished_at = excluded.finished_at, aggregation_seconds = excluded.aggregation_seconds, loss = excluded.loss,
          metrics = excluded.metrics, fit_metrics = excluded.fit_metrics, central_loss = excluded.central_loss,
          central_metrics = excluded.central_metrics, error = excluded.error, phases = excluded.phases
        """;

    /// <inheritdoc />
    public Task SaveRoundAsync(RoundRecord round, CancellationToken ct)
    {
        var args = RoundArguments(round);
        return _rounds.WriteAsync(s =>
        {
            ct.ThrowIfCancellationRequested();
            return RoundRecordSync(s, () => s.Command(SaveRoundSql, args).ExecuteNonQuery());
        });
    }

    /// <summary>The node results not yet written, the round and the run's count of rounds done in one transaction, committed as a round record is.</summary>
    public Task<RunRecord?> CompleteRoundAsync(RoundRecord round, IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
    {
        var args = RoundArguments(round);
        return _rounds.WriteAsync(s =>
        {
            ct.ThrowIfCancellationRequested();
            return RoundRecordSync(s, () =>
            {
                // Begun and committed by prepared statements (a failure closes the connection, which rolls it back).
                s.Command("BEGIN IMMEDIATE").ExecuteNonQuery();
                foreach (var x in results) InsertNodeResult(s, x);
                s.Command(SaveRoundSql, args).ExecuteNonQuery();
                RunRecord? run;
                using (var r = s.Command(SetRoundsDoneSql, ("$id", round.RunId), ("$done", round.Round)).ExecuteReader())
                    run = r.Read() ? ReadRun(r) : null;
                s.Command("COMMIT").ExecuteNonQuery();
                return run;
            });
        });
    }

    private static (string, object?)[] RoundArguments(RoundRecord round) =>
    [
        ("$run", round.RunId), ("$round", round.Round), ("$status", round.Status.ToText()), ("$started", Time(round.StartedAt)),
        ("$finished", Time(round.FinishedAt)), ("$agg", round.AggregationSeconds), ("$loss", Finite(round.Loss)),
        ("$metrics", ScalarJson.Serialize(round.Metrics)), ("$fit", ScalarJson.Serialize(round.FitMetrics)),
        ("$closs", Finite(round.CentralLoss)), ("$cmetrics", ScalarJson.Serialize(round.CentralMetrics)), ("$error", round.Error),
        ("$phases", ScalarJson.Serialize(round.Phases)),
    ];

    // Under --durability power the round record's commit waits for the log on disk (FULL); every other write does not.
    // A failure between the two leaves FULL set on a connection the writer then closes.
    private T RoundRecordSync<T>(SqliteRoundWriter.Statements s, Func<T> write)
    {
        if (_syncRounds) s.Pragma("PRAGMA synchronous=FULL");
        var written = write();
        if (_syncRounds) s.Pragma("PRAGMA synchronous=NORMAL");
        return written;
    }

    /// <summary>The <c>synchronous</c> level (1 NORMAL, 2 FULL) a round record is committed at, read where it is written.</summary>
    internal Task<long> RoundRecordSynchronousLevelAsync() =>
        _rounds.WriteAsync(s => RoundRecordSync(s, () => (long)s.Pragma("PRAGMA synchronous")!));

    /// <inheritdoc />
    public async Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string runId, CancellationToken ct) => await QueryAsync(
        "SELECT run_id, round, status, started_at, finished_at, aggregation_seconds, loss, metrics, fit_metrics, central_loss, central_metrics, error, phases FROM rounds WHERE run_id = $run ORDER BY round",
        r => new RoundRecord(r.GetString(0), r.GetInt32(1), StatusText.StoredRoundStatus(r.GetString(2), "rounds"), TimeOrNull(r, 3)!.Value, TimeOrNull(r, 4), r.GetDouble(5),
            DoubleOrNull(r, 6), ScalarJson.ToMetrics(StringOrNull(r, 7)), ScalarJson.ToMetrics(StringOrNull(r, 8)),
            DoubleOrNull(r, 9), ScalarJson.ToMetrics(StringOrNull(r, 10)), StringOrNull(r, 11), ScalarJson.ToMetrics(StringOrNull(r, 12))), ct, ("$run", runId));

    /// <inheritdoc />
    public Task DeleteRoundsAfterAsync(string runId, int round, CancellationToken ct) => ExecuteAsync("""
        DELETE FROM node_results WHERE run_id = $run AND round > $round;
        DELETE FROM rounds WHERE run_id = $run AND round > $round;
        """, ct, ("$run", runId), ("$round", round));

    /// <inheritdoc />
    public Task AddNodeResultAsync(NodeResultRecord x, CancellationToken ct) => AddNodeResultsAsync([x], ct);

    /// <summary>Appends many node results in one transaction (a simulation's round writes hundreds at once).</summary>
    public Task AddNodeResultsAsync(IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
    {
        if (results.Count == 0) return Task.CompletedTask;
        return _rounds.WriteAsync(s =>
        {
            ct.ThrowIfCancellationRequested();
            // Begun and committed by prepared statements too (a failure closes the connection, which rolls it back).
            s.Command("BEGIN IMMEDIATE").ExecuteNonQuery();
            foreach (var x in results) InsertNodeResult(s, x);
            s.Command("COMMIT").ExecuteNonQuery();
            return true;
        });
    }

    private static void InsertNodeResult(SqliteRoundWriter.Statements s, NodeResultRecord x) =>
        s.Command(AddNodeResultSql, ("$run", x.RunId), ("$round", x.Round), ("$node", x.Node), ("$phase", x.Phase), ("$ok", x.Ok ? 1 : 0),
            ("$error", x.Error), ("$examples", x.Examples), ("$loss", Finite(x.Loss)), ("$metrics", ScalarJson.Serialize(x.Metrics)),
            ("$duration", x.DurationSeconds), ("$upload", x.UploadBytes), ("$at", Time(x.At))).ExecuteNonQuery();

    private const string AddNodeResultSql = """
        INSERT INTO node_results(run_id, round, node, phase, ok, error, examples, loss, metrics, duration_seconds, upload_bytes, at)
        VALUES ($run, $round, $node, $phase, $ok, $error, $examples, $loss, $metrics, $duration, $upload, $at)
        """;

    /// <inheritdoc />
    public async Task<IReadOnlyList<NodeResultRecord>> ListNodeResultsAsync(string runId, CancellationToken ct) => await QueryAsync(
        "SELECT run_id, round, node, phase, ok, error, examples, loss, metrics, duration_seconds, upload_bytes, at FROM node_results WHERE run_id = $run ORDER BY round, phase, node, id",
        r => new NodeResultRecord(r.GetString(0), r.GetInt32(1), r.GetString(2), r.GetString(3), r.GetInt32(4) != 0, StringOrNull(r, 5),
            r.GetInt64(6), DoubleOrNull(r, 7), ScalarJson.ToMetrics(StringOrNull(r, 8)), r.GetDouble(9), r.GetInt64(10), TimeOrNull(r, 11)!.Value),
        ct, ("$run", runId));

    /// <inheritdoc />
    public Task AddEventAsync(string? runId, string kind, string message, CancellationToken ct) => ExecuteAsync(
        "INSERT INTO events(at, run_id, kind, message) VALUES ($at, $run, $kind, $msg)",
        ct, ("$at", Time(DateTimeOffset.UtcNow)), ("$run", runId), ("$kind", kind), ("$msg", message));

    /// <inheritdoc />
    public async Task<IReadOnlyList<EventRecord>> ListEventsAsync(string? runId, CancellationToken ct) => runId is null
        ? await QueryAsync("SELECT id, at, run_id, kind, message FROM events ORDER BY id", ReadEvent, ct)
        : await QueryAsync("SELECT id, at, run_id, kind, message FROM events WHERE run_id = $run ORDER BY id", ReadEvent, ct, ("$run", runId));

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> ListRunsByNodeAsync(CancellationToken ct)
    {
        var rows = await QueryAsync(
            "SELECT node, run_id FROM node_results GROUP BY node, run_id ORDER BY node, MAX(id) DESC",
            r => (Node: r.GetString(0), Run: r.GetString(1)), ct);
        return rows.GroupBy(x => x.Node, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(x => x.Run).ToArray(), StringComparer.Ordinal);
    }

    private static EventRecord ReadEvent(SqliteDataReader r) => new(r.GetInt64(0), TimeOrNull(r, 1)!.Value, StringOrNull(r, 2), r.GetString(3), r.GetString(4));

    private static string? Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset? TimeOrNull(SqliteDataReader r, int i) =>
        r.IsDBNull(i) ? null : DateTimeOffset.Parse(r.GetString(i), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static string? StringOrNull(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static double? DoubleOrNull(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDouble(i);

    private static double? Finite(double? d) => d is { } v && double.IsFinite(v) ? v : null;
}
