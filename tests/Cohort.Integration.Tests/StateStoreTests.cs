using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Records;
using Cohort.Server.State;
using Cohort.Tests.Shared;

namespace Cohort.Integration.Tests;

/// <summary>Both state stores keep the same contract; the server runs on PostgreSQL as on SQLite.</summary>
public sealed class StateStoreTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_state_store_keeps_runs_rounds_node_results_nodes_and_events(string kind)
    {
        await using var scratch = await ScratchStore.StartAsync(kind);
        var store = scratch.Store;
        var ct = CancellationToken.None;
        await store.InitializeAsync(ct);
        await store.InitializeAsync(ct); // idempotent

        await store.SetNodeTokenAsync("a", "hash-a", ct);
        Assert.Equal("a", await store.FindNodeByTokenHashAsync("hash-a", ct));
        Assert.Null(await store.FindNodeByTokenHashAsync("nope", ct));
        var seen = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
        await store.UpdateNodeAsync(new NodeRecord("a", NodeStatus.Online, seen, "ipv4:127.0.0.1:1", "tabular", "1.0"), ct);
        await store.UpdateNodeAsync(new NodeRecord("a", NodeStatus.Offline, seen, null, null, null), ct);
        var node = Assert.Single(await store.ListNodesAsync(ct));
        Assert.Equal(new NodeRecord("a", NodeStatus.Offline, seen, "ipv4:127.0.0.1:1", "tabular", "1.0"), node);

        var created = new DateTimeOffset(2026, 11, 23, 10, 1, 2, TimeSpan.Zero).AddTicks(1230);
        var run = new RunRecord("r1", "name", "exp", "tabular", "fedavg", RunStatus.Queued, 3, 0, "yaml: 1", created, null, null, null);
        await store.SaveRunAsync(run, ct);
        await store.SaveRunAsync(run with { Status = RunStatus.Running, StartedAt = created.AddSeconds(1), RoundsDone = 1 }, ct);
        var stored = await store.GetRunAsync("r1", ct);
        Assert.Equal(RunStatus.Running, stored!.Status);
        Assert.Equal(created.AddSeconds(1).UtcTicks / 10, stored.StartedAt!.Value.UtcTicks / 10);
        Assert.Single(await store.ListRunsAsync(RunStatus.Running, ct));
        Assert.Empty(await store.ListRunsAsync(RunStatus.Failed, ct));

        var metrics = new Metrics([new("accuracy", 0.75), new("count", 3L), new("ok", true), new("label", "x")]);
        var phases = new Metrics([new("wait_for_nodes", 0.0), new("fit", 1.25), new("persist", 0.003)]);
        for (int r = 1; r <= 3; r++)
        {
            // Round 2 is saved without phases, as a caller that does not time rounds would.
            await store.SaveRoundAsync(new RoundRecord("r1", r, RoundStatus.Done, created, created.AddSeconds(r), 0.01 * r, 0.5 / r, metrics, Metrics.Empty, null, Metrics.Empty, null, r == 2 ? null : phases), ct);
            await store.AddNodeResultAsync(new NodeResultRecord("r1", r, "a", "fit", true, null, 10, double.NaN, metrics, 0.2, 1024, created), ct);
        }
        var rounds = await store.ListRoundsAsync("r1", ct);
        Assert.Equal([1, 2, 3], rounds.Select(x => x.Round));
        Assert.Equal(0.75, rounds[0].Metrics["accuracy"].AsDouble());
        Assert.Equal(3L, rounds[0].Metrics["count"].AsInt());
        Assert.Equal("x", rounds[0].Metrics["label"].AsString());
        Assert.Equal(phases.OrderBy(p => p.Key).Select(p => (p.Key, p.Value.AsDouble())), rounds[0].Phases.OrderBy(p => p.Key).Select(p => (p.Key, p.Value.AsDouble())));
        Assert.Empty(rounds[1].Phases);
        Assert.Equal(1.25, rounds[2].Phases["fit"].AsDouble());
        Assert.Null((await store.ListNodeResultsAsync("r1", ct))[0].Loss);

        await store.DeleteRoundsAfterAsync("r1", 1, ct);
        Assert.Single(await store.ListRoundsAsync("r1", ct));
        Assert.Single(await store.ListNodeResultsAsync("r1", ct));

        await store.AddEventAsync("r1", "run.started", "started", ct);
        await store.AddEventAsync(null, "node.online", "a online", ct);
        Assert.Single(await store.ListEventsAsync("r1", ct));
        Assert.Equal(2, (await store.ListEventsAsync(null, ct)).Count);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Recording_rounds_done_changes_that_count_alone_and_saving_a_run_or_round_again_keeps_the_rest(string kind)
    {
        await using var scratch = await ScratchStore.StartAsync(kind);
        var store = scratch.Store;
        var ct = CancellationToken.None;
        await store.InitializeAsync(ct);
        var created = new DateTimeOffset(2026, 11, 23, 10, 1, 2, TimeSpan.Zero);
        var run = new RunRecord("r1", "name", "exp", "tabular", "fedavg", RunStatus.Running, 5, 0, "yaml: 1", created, created, null, null) { Submitter = "ana" };
        await store.SaveRunAsync(run, ct);
        for (int r = 1; r <= 3; r++)
        {
            await store.AddNodeResultAsync(new NodeResultRecord("r1", r, "a", "fit", true, null, 10, 0.5, Metrics.Empty, 0.2, 1024, created), ct);
            await store.SaveRoundAsync(new RoundRecord("r1", r, RoundStatus.Done, created, created.AddSeconds(r), 0.01, 0.5, Metrics.Empty, Metrics.Empty, null, Metrics.Empty, null), ct);
            var done = await store.SetRoundsDoneAsync("r1", r, ct);
            Assert.Equal(run with { RoundsDone = r }, done);
        }
        Assert.Equal(3, (await store.GetRunAsync("r1", ct))!.RoundsDone);
        Assert.Null(await store.SetRoundsDoneAsync("missing", 1, ct));
        Assert.Null(await store.GetRunAsync("missing", ct));

        // A round completed with the node results not yet written: they, its record and the count in one transaction in
        // SQLite (in PostgreSQL the results first, then one statement).
        var completed = await store.CompleteRoundAsync(new RoundRecord("r1", 4, RoundStatus.Done, created, created.AddSeconds(4), 0.01, 0.25, Metrics.Empty, Metrics.Empty, null, Metrics.Empty, null),
            [new NodeResultRecord("r1", 4, "a", "fit", true, null, 10, 0.5, Metrics.Empty, 0.2, 1024, created), new NodeResultRecord("r1", 4, "b", "fit", true, null, 12, 0.4, Metrics.Empty, 0.3, 1024, created)], ct);
        Assert.Equal(run with { RoundsDone = 4 }, completed);
        Assert.Equal((4, 0.25), ((await store.ListRoundsAsync("r1", ct))[^1].Round, (await store.ListRoundsAsync("r1", ct))[^1].Loss!.Value));
        Assert.Equal(["a", "b"], (await store.ListNodeResultsAsync("r1", ct)).Where(x => x.Round == 4).Select(x => x.Node));
        // A round of a run that is not there is refused (its run is its foreign key), and the count of no run changes.
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => store.CompleteRoundAsync(new RoundRecord("missing", 1, RoundStatus.Done, created, created, 0.01, null, Metrics.Empty, Metrics.Empty, null, Metrics.Empty, null), [], ct));
        await store.DeleteRoundsAfterAsync("r1", 3, ct);
        await store.SaveRunAsync(run with { RoundsDone = 3 }, ct);

        // Saved again (finished), the run keeps its rounds and node results, and a round saved again is one row.
        await store.SaveRunAsync(run with { Status = RunStatus.Finished, RoundsDone = 3, FinishedAt = created.AddMinutes(1) }, ct);
        await store.SaveRoundAsync(new RoundRecord("r1", 3, RoundStatus.Failed, created, created.AddSeconds(9), 0.02, null, Metrics.Empty, Metrics.Empty, null, Metrics.Empty, "late"), ct);
        Assert.Equal(RunStatus.Finished, (await store.GetRunAsync("r1", ct))!.Status);
        var rounds = await store.ListRoundsAsync("r1", ct);
        Assert.Equal([1, 2, 3], rounds.Select(x => x.Round));
        Assert.Equal((RoundStatus.Failed, (double?)null, "late"), (rounds[2].Status, rounds[2].Loss, rounds[2].Error));
        Assert.Equal(3, (await store.ListNodeResultsAsync("r1", ct)).Count);
    }

    [Fact]
    public async Task Saving_a_run_or_a_round_in_sqlite_reads_none_of_the_run_s_rounds_or_node_results()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-store-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "s.db");
        try
        {
            await new SqliteStateStore(path).InitializeAsync(CancellationToken.None);
            await using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=false;Foreign Keys=True");
            await c.OpenAsync();
            async Task<string> PlanAsync(string sql)
            {
                await using var cmd = c.CreateCommand();
                cmd.CommandText = "EXPLAIN QUERY PLAN " + sql;
                foreach (string name in System.Text.RegularExpressions.Regex.Matches(sql, @"\$\w+").Select(m => m.Value).Distinct()) cmd.Parameters.AddWithValue(name, DBNull.Value);
                await using var r = await cmd.ExecuteReaderAsync();
                var lines = new List<string>();
                while (await r.ReadAsync()) lines.Add(r.GetString(3));
                return string.Join(" | ", lines);
            }
            // The check sees the cost it guards against: a replace of a run searches its rounds and node results (foreign keys).
            string replace = await PlanAsync(SqliteStateStore.SaveRunSql[..SqliteStateStore.SaveRunSql.IndexOf("ON CONFLICT", StringComparison.Ordinal)].Replace("INSERT INTO", "INSERT OR REPLACE INTO", StringComparison.Ordinal));
            Assert.Contains("node_results", replace, StringComparison.Ordinal);
            Assert.DoesNotContain("node_results", await PlanAsync(SqliteStateStore.SaveRunSql), StringComparison.Ordinal);
            Assert.DoesNotContain("rounds", await PlanAsync(SqliteStateStore.SaveRunSql), StringComparison.Ordinal);
            Assert.DoesNotContain("node_results", await PlanAsync(SqliteStateStore.SaveRoundSql), StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task The_round_writers_connection_keeps_foreign_keys_and_returns_to_normal_sync_after_a_failed_round_record()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-store-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var store = new SqliteStateStore(Path.Combine(dir, "s.db"), syncRounds: true);
        try
        {
            var ct = CancellationToken.None;
            await store.InitializeAsync(ct);
            var at = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
            await store.SaveRunAsync(new RunRecord("r1", "name", "exp", "tabular", "fedavg", RunStatus.Running, 5, 0, "yaml: 1", at, at, null, null), ct);
            // FULL for every round record, not only the first: SQLite applies a pragma when it prepares it.
            for (int round = 1; round <= 3; round++)
            {
                await store.SaveRoundAsync(new RoundRecord("r1", round, RoundStatus.Done, at, at, 0.01, null, Metrics.Empty, Metrics.Empty, null, Metrics.Empty, null), ct);
                Assert.Equal(1, await store.SynchronousLevelAsync(ct)); // NORMAL again after the round record's FULL
                Assert.Equal(2, await store.RoundRecordSynchronousLevelAsync());
            }
            // The connection set up once still enforces foreign keys: a round or result of an unknown run is refused.
            await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() =>
                store.AddNodeResultAsync(new NodeResultRecord("nope", 1, "a", "fit", true, null, 1, null, Metrics.Empty, 0, 0, at), ct));
            await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() =>
                store.SaveRoundAsync(new RoundRecord("nope", 1, RoundStatus.Done, at, at, 0.01, null, Metrics.Empty, Metrics.Empty, null, Metrics.Empty, null), ct));
            // That round record failed between FULL and NORMAL; the connection is closed and a new one set up for the next write.
            Assert.Equal(1, await store.SynchronousLevelAsync(ct));
            Assert.Equal(3, (await store.ListRoundsAsync("r1", ct)).Count);
            // A batch of node results is one transaction: one refused, none written; the next batch goes in whole.
            var ok = new NodeResultRecord("r1", 1, "a", "fit", true, null, 1, null, Metrics.Empty, 0, 0, at);
            await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => store.AddNodeResultsAsync([ok, ok with { RunId = "nope" }], ct));
            Assert.Empty(await store.ListNodeResultsAsync("r1", ct));
            await store.AddNodeResultsAsync([ok, ok with { Node = "b" }], ct);
            Assert.Equal(["a", "b"], (await store.ListNodeResultsAsync("r1", ct)).Select(r => r.Node));
            Assert.Equal(1, (await store.SetRoundsDoneAsync("r1", 1, ct))!.RoundsDone);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Completing_a_round_commits_its_held_node_results_its_record_and_the_runs_rounds_done_in_one_write_and_a_refused_one_writes_nothing()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-store-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "s.db");
        var store = new SqliteStateStore(path, syncRounds: true);
        try
        {
            var ct = CancellationToken.None;
            await store.InitializeAsync(ct);
            var at = new DateTimeOffset(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);
            await store.SaveRunAsync(new RunRecord("r1", "name", "exp", "tabular", "fedavg", RunStatus.Running, 5, 0, "yaml: 1", at, at, null, null), ct);
            RoundRecord Round(string run, int round) => new(run, round, RoundStatus.Done, at, at.AddSeconds(1), 0.01, 0.5, Metrics.Empty, Metrics.Empty, null, Metrics.Empty, null);

            NodeResultRecord[] Results(string run, int round) => [new(run, round, "a", "fit", true, null, 10, 0.5, Metrics.Empty, 0.2, 1024, at), new(run, round, "b", "evaluate", true, null, 10, 0.5, Metrics.Empty, 0.2, 0, at)];

            var run = await store.CompleteRoundAsync(Round("r1", 1), Results("r1", 1), ct);
            Assert.Equal(("r1", 1), (run!.Id, run.RoundsDone));
            run = await store.CompleteRoundAsync(Round("r1", 2), [], ct);
            Assert.Equal(2, run!.RoundsDone);
            Assert.Equal(1, await store.SynchronousLevelAsync(ct));

            // Refused (a round of an unknown run): nothing of it is written, and the connection is set up again.
            await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => store.CompleteRoundAsync(Round("nope", 3), [], ct));
            Assert.Equal(1, await store.SynchronousLevelAsync(ct));
            // Refused after the node results' and the round's rows went in (the count's update fails): they go with it.
            await using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=false"))
            {
                await c.OpenAsync();
                await using var cmd = c.CreateCommand();
                cmd.CommandText = "CREATE TRIGGER refuse_three BEFORE UPDATE OF rounds_done ON runs WHEN NEW.rounds_done = 3 BEGIN SELECT RAISE(ABORT, 'three refused'); END";
                await cmd.ExecuteNonQueryAsync();
            }
            Assert.Contains("three refused", (await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => store.CompleteRoundAsync(Round("r1", 3), Results("r1", 3), ct))).Message, StringComparison.Ordinal);

            // What another connection reads: both rounds and the count, as committed, and round 1's results.
            var reader = new SqliteStateStore(path);
            Assert.Equal([1, 2], (await reader.ListRoundsAsync("r1", ct)).Select(r => r.Round)); // no round 3
            // (listed by round, phase, node: b's evaluation before a's fit)
            Assert.Equal([(1, "b"), (1, "a")], (await reader.ListNodeResultsAsync("r1", ct)).Select(r => (r.Round, r.Node))); // none of round 3
            Assert.Equal(2, (await reader.GetRunAsync("r1", ct))!.RoundsDone);
            Assert.Empty(await reader.ListRoundsAsync("nope", ct));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_sqlite_database_at_schema_version_1_opens_and_keeps_its_rounds_without_phases()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-store-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "s.db");
        try
        {
            // The version-1 schema as released, with one run and one round in it.
            await using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=false"))
            {
                await c.OpenAsync();
                await using var cmd = c.CreateCommand();
                cmd.CommandText = """
                    CREATE TABLE nodes (
                      name TEXT PRIMARY KEY, token_hash TEXT UNIQUE, status TEXT NOT NULL DEFAULT 'unknown',
                      last_seen TEXT, address TEXT, app TEXT, version TEXT);
                    CREATE TABLE runs (
                      id TEXT PRIMARY KEY, name TEXT NOT NULL, experiment TEXT NOT NULL, app TEXT NOT NULL, strategy TEXT NOT NULL,
                      status TEXT NOT NULL, rounds_planned INTEGER NOT NULL, rounds_done INTEGER NOT NULL, plan_yaml TEXT NOT NULL,
                      created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, error TEXT);
                    CREATE TABLE rounds (
                      run_id TEXT NOT NULL REFERENCES runs(id), round INTEGER NOT NULL, status TEXT NOT NULL,
                      started_at TEXT NOT NULL, finished_at TEXT, aggregation_seconds REAL NOT NULL, loss REAL,
                      metrics TEXT, fit_metrics TEXT, central_loss REAL, central_metrics TEXT, error TEXT,
                      PRIMARY KEY (run_id, round));
                    CREATE TABLE node_results (
                      id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(id), round INTEGER NOT NULL,
                      node TEXT NOT NULL, phase TEXT NOT NULL, ok INTEGER NOT NULL, error TEXT, examples INTEGER NOT NULL,
                      loss REAL, metrics TEXT, duration_seconds REAL NOT NULL, upload_bytes INTEGER NOT NULL, at TEXT NOT NULL);
                    CREATE TABLE events (
                      id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, run_id TEXT, kind TEXT NOT NULL, message TEXT NOT NULL);
                    CREATE TABLE schema_version (version INTEGER NOT NULL);
                    INSERT INTO schema_version(version) VALUES (1);
                    INSERT INTO runs VALUES ('r1', 'n', 'e', 'tabular', 'fedavg', 'finished', 1, 1, 'yaml: 1', '2026-11-23T10:00:00.0000000Z', NULL, NULL, NULL);
                    INSERT INTO rounds VALUES ('r1', 1, 'done', '2026-11-23T10:00:00.0000000Z', '2026-11-23T10:00:01.0000000Z', 0.01, 0.5, '{"accuracy":0.75}', '{}', NULL, '{}', NULL);
                    """;
                await cmd.ExecuteNonQueryAsync();
            }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

            var ct = CancellationToken.None;
            var store = new SqliteStateStore(path);
            await store.InitializeAsync(ct);

            var old = Assert.Single(await store.ListRoundsAsync("r1", ct));
            Assert.Equal(0.75, old.Metrics["accuracy"].AsDouble());
            Assert.Empty(old.Phases);
            await store.SaveRoundAsync(old with { Round = 2, Phases = new Metrics([new("fit", 2.5)]) }, ct);
            Assert.Equal(2.5, (await store.ListRoundsAsync("r1", ct))[1].Phases["fit"].AsDouble());
            await using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=false"))
            {
                await c.OpenAsync();
                await using var cmd = c.CreateCommand();
                cmd.CommandText = "SELECT version FROM schema_version";
                Assert.Equal((long)SchemaVersion.Current, await cmd.ExecuteScalarAsync());
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_server_on_postgresql_keeps_its_runs_across_a_restart()
    {
        await using var pg = await PostgresCluster.StartAsync();
        string database = await pg.CreateDatabaseAsync("cohort");
        int port = TestServer.FreePort();
        var server = await TestServer.StartAsync(port: port, database: database);
        string dataDir = server.DataDir;
        CliProcess? node = null;
        try
        {
            node = CliProcess.StartNode(server, "a", await server.Control.CreateNodeTokenAsync("a", default), "empty");
            await server.WaitForNodesAsync(1, processes: [node]);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 2, minAvailable: 1, minFit: 1), "pg", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(run.Id)).Run.Status);

            await server.StopAsync();
            server = await TestServer.StartAsync(dataDir, port, database: database);
            var detail = await server.Control.GetAsync(run.Id, default);
            Assert.Equal("finished", detail.Run.Status);
            Assert.Equal(2, detail.Rounds.Count);
            // The node's token lives in PostgreSQL too: the node reconnects and serves the next run.
            await server.WaitForNodesAsync(1, processes: [node]);
            var next = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1), "pg2", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(next.Id)).Run.Status);
        }
        finally
        {
            if (node is not null) await node.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_stopped_server_leaves_no_connection_to_its_database_behind(string kind)
    {
        // A server embedded in a longer-lived process (a host application, a test run) is stopped and started again:
        // each stop must close what it opened, or the database's handles (SQLite) or connections (PostgreSQL) pile up.
        await using var pg = kind == "postgres" ? await PostgresCluster.StartAsync() : null;
        string? database = pg is null ? null : await pg.CreateDatabaseAsync("cohort");
        var server = await TestServer.StartAsync(database: database);
        // cohort.db with its -wal and -shm.
        string sqlite = Path.Combine(Path.GetFullPath(server.DataDir), "cohort.db");
        CliProcess? node = null;
        try
        {
            node = CliProcess.StartNode(server, "a", await server.Control.CreateNodeTokenAsync("a", default), "empty");
            await server.WaitForNodesAsync(1, processes: [node]);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 3, minAvailable: 1, minFit: 1), "close", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(run.Id)).Run.Status);
            Assert.True(pg is not null || OpenFiles.Under(sqlite).Length > 0, "the running server holds its SQLite database open (the check below would prove nothing)");
            if (pg is not null) Assert.True(await ConnectionsToAsync(pg, "cohort") > 0, "the running server holds PostgreSQL connections (the check below would prove nothing)");
        }
        finally
        {
            if (node is not null) await node.DisposeAsync();
            await server.DisposeAsync();
        }

        if (pg is null)
        {
            // The folder is gone with the server; a file still open shows as "(deleted)" and still matches.
            Assert.Empty(OpenFiles.Under(sqlite));
            return;
        }
        // The backend ends a moment after the pool's connections are closed.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        long left;
        while ((left = await ConnectionsToAsync(pg, "cohort")) > 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.True(left == 0, $"{left} connection(s) to the stopped server's database still open");
    }

    private static async Task<long> ConnectionsToAsync(PostgresCluster pg, string database)
    {
        await using var source = Npgsql.NpgsqlDataSource.Create(pg.ConnectionString);
        await using var cmd = source.CreateCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()");
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = database });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>A fresh store of one kind (a SQLite file in a folder of its own, or a PostgreSQL cluster), removed when disposed.</summary>
    private sealed class ScratchStore : IAsyncDisposable
    {
        private readonly PostgresCluster? _pg;
        private readonly string _dir;

        private ScratchStore(PostgresCluster? pg, string dir, IStateStore store) => (_pg, _dir, Store) = (pg, dir, store);

        public IStateStore Store { get; }

        public static async Task<ScratchStore> StartAsync(string kind)
        {
            var pg = kind == "postgres" ? await PostgresCluster.StartAsync() : null;
            string dir = Path.Combine(Path.GetTempPath(), "cohort-store-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(dir);
            return new ScratchStore(pg, dir, pg is null ? new SqliteStateStore(Path.Combine(dir, "s.db")) : new PostgresStateStore(pg.ConnectionString));
        }

        public async ValueTask DisposeAsync()
        {
            if (Store is IAsyncDisposable d) await d.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(_dir, recursive: true);
            if (_pg is not null) await _pg.DisposeAsync();
        }
    }
}
