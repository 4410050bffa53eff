using System.Net;
using System.Net.Sockets;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Plans;

namespace Cohort.Integration.Tests;

/// <summary>
/// A real server process killed (as by <c>kill -9</c>) five times in one run, each time at a chosen point of a
/// round — while configuring, while results come in, before aggregating, between the model and its strategy
/// state, during evaluation — and restarted on its data folder with the same node processes, ends with the
/// model an uninterrupted run ends with, byte for byte. The points come from the server's test-only
/// <c>COHORT_TEST_CRASH_AT</c> hook.
/// </summary>
public sealed class ServerCrashPointsTests
{
    private const int Rounds = 6;
    private static readonly string[] Hospitals = ["cleveland", "hungarian", "va"];

    // One crash per round from round 2 on (round 1's model comes from a node, before any checkpoint).
    private static readonly string[] Synchronous = ["configure:2", "result:3", "aggregate:4", "checkpoint:5", "evaluate:6"];

    // FedBuff versions: a task handed out, one buffered update in, a full buffer not yet applied, a version's
    // model written but not recorded, and one update in again.
    private static readonly string[] Buffered = ["configure:2", "result:3", "aggregate:4", "checkpoint:5", "result:6"];

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Theory]
    [InlineData("fedavg")]
    [InlineData("fedadam")]
    [InlineData("scaffold")]
    [InlineData("fedbuff")]
    public async Task A_run_whose_server_is_killed_at_five_points_ends_with_the_uninterrupted_runs_model(string strategy)
    {
        bool buffered = strategy == "fedbuff";
        var values = new List<(string, string)> { ("round_timeout", "60s"), ("wait_for_nodes", "60s"), ("seed", "7") };
        if (buffered)
        {
            // One task at a time: the order of arrivals, and so FedBuff's model, is then the same in every run.
            values.AddRange([("strategy.name", "fedavg"), ("asynchronous.buffer_size", "2"), ("asynchronous.concurrency", "1")]);
        }
        else
        {
            values.Add(("strategy.name", strategy));
            if (strategy == "fedadam") values.Add(("strategy.params.server_learning_rate", "0.05"));
        }
        string plan = PlanText.WithValues(TestPlans.Heart(rounds: Rounds, nodes: Hospitals.Length, minFit: Hospitals.Length), values);
        string[] points = buffered ? Buffered : Synchronous;

        int port = FreePort();
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var server = await StartAsync(dataDir, port, points[0]);
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var h in Hospitals)
                nodes.Add(server.StartNode(h, await server.Control.CreateNodeTokenAsync(h, default), "tabular", "--data", Repo.HeartData(h)));
            string runId = (await server.Control.SubmitAsync(plan, "crashed", default)).Id;

            for (int i = 0; i < points.Length; i++)
            {
                int code = await server.WaitForExitAsync(TimeSpan.FromSeconds(120));
                Assert.True(server.Process.Output.Contains($"killing the server at {points[i]}", StringComparison.Ordinal),
                    $"the server ended (status {code}) without reaching {points[i]}:\n{server.Process.Output}");
                await server.Process.DisposeAsync();
                server = await StartAsync(dataDir, port, i + 1 < points.Length ? points[i + 1] : null);
            }

            var crashed = await WaitForRunAsync(server, runId);
            Assert.True(crashed.Run.Status == "finished", crashed.Run.Error);
            Assert.Equal(points.Length, crashed.Events.Count(e => e.Contains("run.resumed", StringComparison.Ordinal)));
            Assert.DoesNotContain(crashed.Events, e => e.Contains("run.checkpoint_fallback", StringComparison.Ordinal));
            // Killed with results in (a result kept, or all of them before aggregating): the rerun keeps them.
            Assert.Contains(crashed.Events, e => e.Contains("round.results_kept", StringComparison.Ordinal) && e.Contains(buffered ? "version 3: 1 buffered update" : "round 3: 1 fit result", StringComparison.Ordinal));
            Assert.Contains(crashed.Events, e => e.Contains("round.results_kept", StringComparison.Ordinal) && e.Contains(buffered ? "version 4: 2 buffered updates" : "round 4: 3 fit results", StringComparison.Ordinal));
            if (!buffered) Assert.Contains(crashed.Events, e => e.Contains("round 4:", StringComparison.Ordinal) && e.Contains("no node is asked again", StringComparison.Ordinal));

            var uninterrupted = await WaitForRunAsync(server, (await server.Control.SubmitAsync(plan, "uninterrupted", default)).Id);
            Assert.True(uninterrupted.Run.Status == "finished", uninterrupted.Run.Error);
            Assert.DoesNotContain(uninterrupted.Events, e => e.Contains("run.resumed", StringComparison.Ordinal));

            var (expected, _) = await server.Control.PullModelAsync(uninterrupted.Run.Id, 0, default);
            var (actual, _) = await server.Control.PullModelAsync(runId, 0, default);
            Assert.Equal(expected.SelectMany(t => t.Data).ToArray(), actual.SelectMany(t => t.Data).ToArray());
            // Nothing is left kept once the run is done.
            Assert.Empty(Directory.EnumerateDirectories(Path.Combine(dataDir, "models", runId), "round-*.results"));
        }
        finally
        {
            File.WriteAllText("/tmp/r/server.log", server.Process.Output);
            foreach (var n in nodes) await n.DisposeAsync();
            if (Directory.Exists("/tmp/r/dbg")) Directory.Delete("/tmp/r/dbg", true);
            Directory.CreateDirectory("/tmp/r/dbg");
            foreach (var f in Directory.GetFiles(dataDir, "cohort.db*")) File.Copy(f, Path.Combine("/tmp/r/dbg", Path.GetFileName(f)));
            await server.DisposeAsync();
        }
    }

    private static Task<ServerProcess> StartAsync(string dataDir, int port, string? crashAt) =>
        ServerProcess.StartInAsync(dataDir, port, crashAt is null ? null : new Dictionary<string, string> { ["COHORT_TEST_CRASH_AT"] = crashAt });

    private static async Task<Cohort.Transport.V1.RunDetail> WaitForRunAsync(ServerProcess server, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(180);
        while (true)
        {
            var detail = await server.Control.GetAsync(id, default);
            if (RunStatus.IsFinal(detail.Run.Status)) return detail;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"run {id} still {detail.Run.Status} at round {detail.Run.RoundsDone}\n{server.Process.Output}");
            await Task.Delay(100);
        }
    }
}
