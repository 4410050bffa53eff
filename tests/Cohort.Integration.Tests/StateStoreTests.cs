using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Records;
using Cohort.Server.State;

namespace Cohort.Integration.Tests;

/// <summary>Both state stores keep the same contract; the server runs on PostgreSQL as on SQLite.</summary>
public sealed class StateStoreTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_state_store_keeps_runs_rounds_node_results_nodes_and_events(string kind)
    {
        await using var pg = kind == "postgres" ? await PostgresCluster.StartAsync() : null;
        string dir = Path.Combine(Path.GetTempPath(), "cohort-store-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        IStateStore store = pg is null ? new SqliteStateStore(Path.Combine(dir, "s.db")) : new PostgresStateStore(pg.ConnectionString);
        try
        {
            var ct = CancellationToken.None;
            await store.InitializeAsync(ct);
            await store.InitializeAsync(ct); // idempotent

            await store.SetNodeTokenAsync("a", "hash-a", ct);
            Assert.Equal("a", await store.FindNodeByTokenHashAsync("hash-a", ct));
            Assert.Null(await store.FindNodeByTokenHashAsync("nope", ct));
            var seen = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
            await store.UpdateNodeAsync(new NodeRecord("a", "online", seen, "ipv4:127.0.0.1:1", "tabular", "1.0"), ct);
            await store.UpdateNodeAsync(new NodeRecord("a", "offline", seen, null, null, null), ct);
            var node = Assert.Single(await store.ListNodesAsync(ct));
            Assert.Equal(new NodeRecord("a", "offline", seen, "ipv4:127.0.0.1:1", "tabular", "1.0"), node);

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
            for (int r = 1; r <= 3; r++)
            {
                await store.SaveRoundAsync(new RoundRecord("r1", r, "done", created, created.AddSeconds(r), 0.01 * r, 0.5 / r, metrics, Metrics.Empty, null, Metrics.Empty, null), ct);
                await store.AddNodeResultAsync(new NodeResultRecord("r1", r, "a", "fit", true, null, 10, double.NaN, metrics, 0.2, 1024, created), ct);
            }
            var rounds = await store.ListRoundsAsync("r1", ct);
            Assert.Equal([1, 2, 3], rounds.Select(x => x.Round));
            Assert.Equal(0.75, rounds[0].Metrics["accuracy"].AsDouble());
            Assert.Equal(3L, rounds[0].Metrics["count"].AsInt());
            Assert.Equal("x", rounds[0].Metrics["label"].AsString());
            Assert.Null((await store.ListNodeResultsAsync("r1", ct))[0].Loss);

            await store.DeleteRoundsAfterAsync("r1", 1, ct);
            Assert.Single(await store.ListRoundsAsync("r1", ct));
            Assert.Single(await store.ListNodeResultsAsync("r1", ct));

            await store.AddEventAsync("r1", "run.started", "started", ct);
            await store.AddEventAsync(null, "node.online", "a online", ct);
            Assert.Single(await store.ListEventsAsync("r1", ct));
            Assert.Equal(2, (await store.ListEventsAsync(null, ct)).Count);
        }
        finally
        {
            if (store is IAsyncDisposable d) await d.DisposeAsync();
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
}
