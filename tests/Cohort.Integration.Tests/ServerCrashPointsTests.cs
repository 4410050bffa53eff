using System.Net;
using System.Net.Sockets;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Plans;

namespace Cohort.Integration.Tests;

/// <summary>
/// A real server process killed (as by <c>kill -9</c>) five times, each time at a chosen point of a round —
/// while configuring, while results come in, before aggregating, between the model and its strategy state,
/// during evaluation — and restarted on its data folder with the same node processes, while a FedAvg, a
/// FedAdam, a SCAFFOLD and a FedBuff run go on side by side: every kill interrupts all four (the first run
/// to reach the point triggers it, the others stop wherever they are), and each run ends with the model an
/// uninterrupted run of its plan ends with, byte for byte. The points come from the server's test-only
/// <c>COHORT_TEST_CRASH_AT</c> hook.
/// </summary>
public sealed class ServerCrashPointsTests
{
    // Two rounds more than the last crash point, so that no run can finish before the fifth kill.
    private const int Rounds = 8;
    private static readonly string[] Hospitals = ["cleveland", "hungarian", "va"];
    private static readonly string[] Strategies = ["fedavg", "fedadam", "scaffold", "fedbuff"];

    // One kill per round from round 2 on (round 1's model comes from a node, before any checkpoint); for
    // FedBuff a round is the model version being filled.
    private static readonly string[] Points = ["configure:2", "result:3", "aggregate:4", "checkpoint:5", "evaluate:6"];

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string PlanFor(string strategy)
    {
        var values = new List<(string, string)> { ("round_timeout", "60s"), ("wait_for_nodes", "60s"), ("seed", "7") };
        if (strategy == "fedbuff")
        {
            // One task at a time: the order of arrivals, and so FedBuff's model, is then the same in every run.
            values.AddRange([("strategy.name", "fedavg"), ("asynchronous.buffer_size", "2"), ("asynchronous.concurrency", "1")]);
        }
        else
        {
            values.Add(("strategy.name", strategy));
            if (strategy == "fedadam") values.Add(("strategy.params.server_learning_rate", "0.05"));
        }
        return PlanText.WithValues(TestPlans.Heart(rounds: Rounds, nodes: Hospitals.Length, minFit: Hospitals.Length), values);
    }

    [Fact]
    public async Task Runs_whose_server_is_killed_at_five_points_end_with_the_uninterrupted_runs_models()
    {
        int port = FreePort();
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var server = await StartAsync(dataDir, port, Points[0]);
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var h in Hospitals)
                nodes.Add(server.StartNode(h, await server.Control.CreateNodeTokenAsync(h, default), "tabular", "--data", Repo.HeartData(h), "--capacity", "4"));
            var crashed = new List<string>();
            foreach (var strategy in Strategies) crashed.Add((await server.Control.SubmitAsync(PlanFor(strategy), "crashed-" + strategy, default)).Id);

            for (int i = 0; i < Points.Length; i++)
            {
                int code = await server.WaitForExitAsync(TimeSpan.FromSeconds(180));
                Assert.True(server.Process.Output.Contains($"killing the server at {Points[i]}", StringComparison.Ordinal),
                    $"the server ended (status {code}) without reaching {Points[i]}:\n{server.Process.Output}");
                await server.Process.DisposeAsync();
                server = await StartAsync(dataDir, port, i + 1 < Points.Length ? Points[i + 1] : null);
            }

            var details = new List<Cohort.Transport.V1.RunDetail>();
            foreach (var id in crashed) details.Add(await server.WaitForRunAsync(id));
            foreach (var detail in details)
            {
                Assert.True(detail.Run.Status == "finished", $"{detail.Run.Id}: {detail.Run.Error}");
                // Started once and again after each kill: every kill interrupted every run.
                Assert.Equal(Points.Length + 1, detail.Events.Count(e => e.Contains("run.started", StringComparison.Ordinal)));
                Assert.Equal(Points.Length, detail.Events.Count(e => e.Contains("run.resumed", StringComparison.Ordinal)));
                Assert.DoesNotContain(detail.Events, e => e.Contains("run.checkpoint_fallback", StringComparison.Ordinal));
                // Nothing is left kept once a run is done.
                Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(dataDir, "models", detail.Run.Id), "round-*.results"));
            }
            // Killed with results in (one kept, or all of them before aggregating), a run reran without asking for those again.
            var kept = details.SelectMany(d => d.Events).Where(e => e.Contains("round.results_kept", StringComparison.Ordinal)).ToArray();
            Assert.Contains(kept, e => e.Contains("no node is asked again", StringComparison.Ordinal) || e.Contains(": 2 buffered updates", StringComparison.Ordinal));
            Assert.Contains(kept, e => e.Contains("waiting for", StringComparison.Ordinal) || e.Contains(": 1 buffered update", StringComparison.Ordinal));

            var uninterrupted = new List<string>();
            foreach (var strategy in Strategies) uninterrupted.Add((await server.Control.SubmitAsync(PlanFor(strategy), "uninterrupted-" + strategy, default)).Id);
            for (int i = 0; i < Strategies.Length; i++)
            {
                var detail = await server.WaitForRunAsync(uninterrupted[i]);
                Assert.True(detail.Run.Status == "finished", detail.Run.Error);
                Assert.DoesNotContain(detail.Events, e => e.Contains("run.resumed", StringComparison.Ordinal));
                var (expected, _) = await server.Control.PullModelAsync(uninterrupted[i], 0, default);
                var (actual, _) = await server.Control.PullModelAsync(crashed[i], 0, default);
                Assert.True(expected.SelectMany(t => t.Data).SequenceEqual(actual.SelectMany(t => t.Data)),
                    $"{Strategies[i]}: the run killed five times ended with another model than the uninterrupted one");
            }
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    private static Task<ServerProcess> StartAsync(string dataDir, int port, string? crashAt) =>
        ServerProcess.StartInAsync(dataDir, port, crashAt is null ? null : new Dictionary<string, string> { ["COHORT_TEST_CRASH_AT"] = crashAt });
}
