using System.Globalization;
using Cohort.Engine.State;
using Cohort.Records;
using Npgsql;

namespace Cohort.Server.State;

/// <summary>The production state store: PostgreSQL through an Npgsql data source (pooled connections).</summary>
internal sealed class PostgresStateStore : IStateStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;

    /// <summary>Connects with an Npgsql connection string ("Host=…;Username=…;Password=…;Database=…").</summary>
    public PostgresStateStore(string connectionString)
    {
        _source = NpgsqlDataSource.Create(connectionString);
    }

    // Returns the rows changed.
    private async Task<int> ExecuteAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] args)
    {
        await using var cmd = _source.CreateCommand(sql);
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> read, CancellationToken ct, params (string Name, object? Value)[] args)
    {
        await using var cmd = _source.CreateCommand(sql);
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<T>();
        while (await r.ReadAsync(ct)) list.Add(read(r));
        return list;
    }

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken ct)
    {
        // The version is checked before anything is written: a newer server's tables are left alone.
        await ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)", ct);
        long version = (await QueryAsync("SELECT coalesce(max(version), 0) FROM schema_version", r => Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), ct)).Single();
        if (version > SchemaVersion.Current) throw new StateIntegrityException(SchemaVersion.TooNew("the PostgreSQL state database", version));
        await CreateVersion1Async(ct);
        // Version 2: seconds per round phase, JSON like the metrics columns.
        await ExecuteAsync("ALTER TABLE rounds ADD COLUMN IF NOT EXISTS phases text", ct);
        // Version 3: who submitted each run.
        await ExecuteAsync("ALTER TABLE runs ADD COLUMN IF NOT EXISTS submitter text", ct);
        // Version 4: when each node token was issued.
        await ExecuteAsync("ALTER TABLE nodes ADD COLUMN IF NOT EXISTS token_created timestamptz", ct);
        await ExecuteAsync($"DELETE FROM schema_version; INSERT INTO schema_version(version) VALUES ({SchemaVersion.Current})", ct);
    }

    private Task CreateVersion1Async(CancellationToken ct) => ExecuteAsync("""
        CREATE TABLE IF NOT EXISTS nodes (
          name text PRIMARY KEY, token_hash text UNIQUE, status text NOT NULL DEFAULT 'unknown',
          last_seen timestamptz, address text, app text, version text);
        CREATE TABLE IF NOT EXISTS runs (
          id text PRIMARY KEY, name text NOT NULL, experiment text NOT NULL, app text NOT NULL, strategy text NOT NULL,
          status text NOT NULL, rounds_planned integer NOT NULL, rounds_done integer NOT NULL, plan_yaml text NOT NULL,
          created_at timestamptz NOT NULL, started_at timestamptz, finished_at timestamptz, error text);
        CREATE TABLE IF NOT EXISTS rounds (
          run_id text NOT NULL REFERENCES runs(id), round integer NOT NULL, status text NOT NULL,
          started_at timestamptz NOT NULL, finished_at timestamptz, aggregation_seconds double precision NOT NULL,
          loss double precision, metrics text, fit_metrics text, central_loss double precision, central_metrics text, error text,
          PRIMARY KEY (run_id, round));
        CREATE TABLE IF NOT EXISTS node_results (
          id bigserial PRIMARY KEY, run_id text NOT NULL REFERENCES runs(id), round integer NOT NULL,
          node text NOT NULL, phase text NOT NULL, ok boolean NOT NULL, error text, examples bigint NOT NULL,
          loss double precision, metrics text, duration_seconds double precision NOT NULL, upload_bytes bigint NOT NULL, at timestamptz NOT NULL);
        CREATE INDEX IF NOT EXISTS node_results_run ON node_results(run_id, round);
        CREATE TABLE IF NOT EXISTS events (
          id bigserial PRIMARY KEY, at timestamptz NOT NULL, run_id text, kind text NOT NULL, message text NOT NULL);
        CREATE INDEX IF NOT EXISTS events_run ON events(run_id);
        """, ct);

    /// <inheritdoc />
    public Task SetNodeTokenAsync(string node, string tokenHash, CancellationToken ct) => ExecuteAsync("""
        INSERT INTO nodes(name, token_hash, token_created) VALUES (@n, @h, @c)
        ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, token_created = excluded.token_created
        """, ct, ("n", node), ("h", tokenHash), ("c", DateTimeOffset.UtcNow));

    /// <inheritdoc />
    public async Task<IReadOnlyList<NodeTokenRecord>> ListNodeTokensAsync(CancellationToken ct) => await QueryAsync(
        "SELECT name, token_created, last_seen FROM nodes WHERE token_hash IS NOT NULL ORDER BY name",
        r => new NodeTokenRecord(r.GetString(0), Time(r, 1), Time(r, 2)), ct);

    /// <inheritdoc />
    public async Task<bool> RevokeNodeTokenAsync(string node, CancellationToken ct) =>
        await ExecuteAsync("UPDATE nodes SET token_hash = NULL, token_created = NULL WHERE name = @n AND token_hash IS NOT NULL", ct, ("n", node)) > 0;

    /// <inheritdoc />
    public async Task<bool> RemoveNodeAsync(string node, CancellationToken ct) =>
        await ExecuteAsync("DELETE FROM nodes WHERE name = @n", ct, ("n", node)) > 0;

    /// <inheritdoc />
    public async Task<string?> FindNodeByTokenHashAsync(string tokenHash, CancellationToken ct) =>
        (await QueryAsync("SELECT name FROM nodes WHERE token_hash = @h", r => r.GetString(0), ct, ("h", tokenHash))).FirstOrDefault();

    /// <inheritdoc />
    public Task UpdateNodeAsync(NodeRecord node, CancellationToken ct) => ExecuteAsync("""
        INSERT INTO nodes(name, status, last_seen, address, app, version) VALUES (@n, @s, @l, @a, @p, @v)
        ON CONFLICT (name) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen,
          address = COALESCE(excluded.address, nodes.address), app = COALESCE(excluded.app, nodes.app),
          version = COALESCE(excluded.version, nodes.version)
        """, ct, ("n", node.Name), ("s", node.Status.ToText()), ("l", node.LastSeen), ("a", node.Address), ("p", node.App), ("v", node.Version));

    /// <inheritdoc />
    public async Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken ct) => await QueryAsync(
        "SELECT name, status, last_seen, address, app, version FROM nodes ORDER BY name",
        r => new NodeRecord(r.GetString(0), StatusText.StoredNodeStatus(r.GetString(1), "nodes"), Time(r, 2), Text(r, 3), Text(r, 4), Text(r, 5)), ct);

    /// <inheritdoc />
    public Task SaveRunAsync(RunRecord run, CancellationToken ct) => ExecuteAsync("""
        INSERT INTO runs(id, name, experiment, app, strategy, status, rounds_planned, rounds_done, plan_yaml, created_at, started_at, finished_at, error, submitter)
        VALUES (@id, @name, @exp, @app, @strategy, @status, @planned, @done, @plan, @created, @started, @finished, @error, @submitter)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, experiment = excluded.experiment, app = excluded.app,
          strategy = excluded.strategy, status = excluded.status, rounds_planned = excluded.rounds_planned,
          rounds_done = excluded.rounds_done, plan_yaml = excluded.plan_yaml, created_at = excluded.created_at,
          started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error, submitter = excluded.submitter
        """, ct, ("id", run.Id), ("name", run.Name), ("exp", run.Experiment), ("app", run.App), ("strategy", run.Strategy),
        ("status", run.Status.ToText()), ("planned", run.RoundsPlanned), ("done", run.RoundsDone), ("plan", run.PlanYaml),
        ("created", run.CreatedAt), ("started", run.StartedAt), ("finished", run.FinishedAt), ("error", run.Error), ("submitter", run.Submitter));

    private const string RunColumns = "id, name, experiment, app, strategy, status, rounds_planned, rounds_done, plan_yaml, created_at, started_at, finished_at, error, submitter";

    private static RunRecord ReadRun(NpgsqlDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), StatusText.StoredRunStatus(r.GetString(5), "runs"),
        r.GetInt32(6), r.GetInt32(7), r.GetString(8), Time(r, 9)!.Value, Time(r, 10), Time(r, 11), Text(r, 12))
    {
        Submitter = Text(r, 13),
    };

    /// <inheritdoc />
    public async Task<RunRecord?> GetRunAsync(string id, CancellationToken ct) =>
        (await QueryAsync($"SELECT {RunColumns} FROM runs WHERE id = @id", ReadRun, ct, ("id", id))).FirstOrDefault();

    /// <inheritdoc />
    public async Task<RunRecord?> SetRoundsDoneAsync(string runId, int roundsDone, CancellationToken ct) =>
        (await QueryAsync($"UPDATE runs SET rounds_done = @done WHERE id = @id RETURNING {RunColumns}", ReadRun, ct, ("id", runId), ("done", roundsDone))).FirstOrDefault();

    /// <inheritdoc />
    public async Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunStatus? status, CancellationToken ct) => status is null
        ? await QueryAsync($"SELECT {RunColumns} FROM runs ORDER BY created_at DESC, id DESC", ReadRun, ct)
        : await QueryAsync($"SELECT {RunColumns} FROM runs WHERE status = @s ORDER BY created_at DESC, id DESC", ReadRun, ct, ("s", status.Value.ToText()));

    /// <inheritdoc />
    public Task SaveRoundAsync(RoundRecord round, CancellationToken ct) => ExecuteAsync(SaveRoundSql, ct, RoundArguments(round));

    /// <summary>
    /// The node results not yet written, then the round and the run's count of rounds done (one statement, a data-modifying
    /// <c>WITH</c>), sent as one batch: one round trip and one transaction, so one commit.
    /// </summary>
    public async Task<RunRecord?> CompleteRoundAsync(RoundRecord round, IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
    {
        await using var batch = _source.CreateBatch();
        foreach (var result in results) batch.BatchCommands.Add(NodeResultCommand(result));
        var complete = new NpgsqlBatchCommand($"WITH saved AS ({SaveRoundSql} RETURNING 1) UPDATE runs SET rounds_done = @round WHERE id = @run RETURNING {RunColumns}");
        foreach (var (name, value) in RoundArguments(round)) complete.Parameters.AddWithValue(name, value ?? DBNull.Value);
        batch.BatchCommands.Add(complete);
        await using var r = await batch.ExecuteReaderAsync(ct);
        // The inserts return no rows; the last statement returns the run (or none, when it is not there).
        RunRecord? run = null;
        do
        {
            while (await r.ReadAsync(ct)) run = ReadRun(r);
        }
        while (await r.NextResultAsync(ct));
        return run;
    }

    private const string SaveRoundSql = """
        INSERT INTO rounds(run_id, round, status, started_at, finished_at, aggregation_seconds, loss, metrics, fit_metrics, central_loss, central_metrics, error, phases)
        VALUES (@run, @round, @status, @started, @finished, @agg, @loss, @metrics, @fit, @closs, @cmetrics, @error, @phases)
        ON CONFLICT (run_id, round) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
          finished_at = excluded.finished_at, aggregation_seconds = excluded.aggregation_seconds, loss = excluded.loss,
          metrics = excluded.metrics, fit_metrics = excluded.fit_metrics, central_loss = excluded.central_loss,
          central_metrics = excluded.central_metrics, error = excluded.error, phases = excluded.phases
        """;

    private static (string Name, object? Value)[] RoundArguments(RoundRecord round) =>
    [
        ("run", round.RunId), ("round", round.Round), ("status", round.Status.ToText()), ("started", round.StartedAt),
        ("finished", round.FinishedAt), ("agg", round.AggregationSeconds), ("loss", Finite(round.Loss)),
        ("metrics", ScalarJson.Serialize(round.Metrics)), ("fit", ScalarJson.Serialize(round.FitMetrics)),
        ("closs", Finite(round.CentralLoss)), ("cmetrics", ScalarJson.Serialize(round.CentralMetrics)), ("error", round.Error),
        ("phases", ScalarJson.Serialize(round.Phases)),
    ];

    /// <inheritdoc />
    public async Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string runId, CancellationToken ct) => await QueryAsync(
        "SELECT run_id, round, status, started_at, finished_at, aggregation_seconds, loss, metrics, fit_metrics, central_loss, central_metrics, error, phases FROM rounds WHERE run_id = @run ORDER BY round",
        r => new RoundRecord(r.GetString(0), r.GetInt32(1), StatusText.StoredRoundStatus(r.GetString(2), "rounds"), Time(r, 3)!.Value, Time(r, 4), r.GetDouble(5),
            Double(r, 6), ScalarJson.ToMetrics(Text(r, 7)), ScalarJson.ToMetrics(Text(r, 8)),
            Double(r, 9), ScalarJson.ToMetrics(Text(r, 10)), Text(r, 11), ScalarJson.ToMetrics(Text(r, 12))), ct, ("run", runId));

    /// <inheritdoc />
    public Task DeleteRoundsAfterAsync(string runId, int round, CancellationToken ct) => ExecuteAsync("""
        DELETE FROM node_results WHERE run_id = @run AND round > @round;
        DELETE FROM rounds WHERE run_id = @run AND round > @round;
        """, ct, ("run", runId), ("round", round));

    /// <inheritdoc />
    public Task AddNodeResultAsync(NodeResultRecord x, CancellationToken ct) => AddNodeResultsAsync([x], ct);

    /// <summary>Appends node results in order, as one batch: one round trip and one transaction.</summary>
    public async Task AddNodeResultsAsync(IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
    {
        if (results.Count == 0) return;
        await using var batch = _source.CreateBatch();
        foreach (var result in results) batch.BatchCommands.Add(NodeResultCommand(result));
        await batch.ExecuteNonQueryAsync(ct);
    }

    private static NpgsqlBatchCommand NodeResultCommand(NodeResultRecord x)
    {
        var command = new NpgsqlBatchCommand("""
            INSERT INTO node_results(run_id, round, node, phase, ok, error, examples, loss, metrics, duration_seconds, upload_bytes, at)
            VALUES (@run, @round, @node, @phase, @ok, @error, @examples, @loss, @metrics, @duration, @upload, @at)
            """);
        foreach (var (name, value) in new (string, object?)[]
        {
            ("run", x.RunId), ("round", x.Round), ("node", x.Node), ("phase", x.Phase), ("ok", x.Ok), ("error", x.Error),
            ("examples", x.Examples), ("loss", Finite(x.Loss)), ("metrics", ScalarJson.Serialize(x.Metrics)), ("duration", x.DurationSeconds),
            ("upload", x.UploadBytes), ("at", x.At),
        })
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<NodeResultRecord>> ListNodeResultsAsync(string runId, CancellationToken ct) => await QueryAsync(
        "SELECT run_id, round, node, phase, ok, error, examples, loss, metrics, duration_seconds, upload_bytes, at FROM node_results WHERE run_id = @run ORDER BY round, phase, node, id",
        r => new NodeResultRecord(r.GetString(0), r.GetInt32(1), r.GetString(2), r.GetString(3), r.GetBoolean(4), Text(r, 5),
            r.GetInt64(6), Double(r, 7), ScalarJson.ToMetrics(Text(r, 8)), r.GetDouble(9), r.GetInt64(10), Time(r, 11)!.Value),
        ct, ("run", runId));

    /// <inheritdoc />
    public Task AddEventAsync(string? runId, string kind, string message, CancellationToken ct) => ExecuteAsync(
        "INSERT INTO events(at, run_id, kind, message) VALUES (@at, @run, @kind, @msg)",
        ct, ("at", DateTimeOffset.UtcNow), ("run", runId), ("kind", kind), ("msg", message));

    /// <inheritdoc />
    public async Task<IReadOnlyList<EventRecord>> ListEventsAsync(string? runId, CancellationToken ct) => runId is null
        ? await QueryAsync("SELECT id, at, run_id, kind, message FROM events ORDER BY id", ReadEvent, ct)
        : await QueryAsync("SELECT id, at, run_id, kind, message FROM events WHERE run_id = @run ORDER BY id", ReadEvent, ct, ("run", runId));

    private static EventRecord ReadEvent(NpgsqlDataReader r) => new(r.GetInt64(0), Time(r, 1)!.Value, Text(r, 2), r.GetString(3), r.GetString(4));

    private static DateTimeOffset? Time(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);

    private static string? Text(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static double? Double(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDouble(i);

    private static double? Finite(double? d) => d is { } v && double.IsFinite(v) ? v : null;

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
