using System.Net;
using System.Net.Sockets;
using Cohort.Cli.Control;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Engine.State;
using Cohort.Plans;

namespace Cohort.Integration.Tests;

/// <summary>A server process killed mid-run and restarted on its data folder finishes a FedAdam run with the model an uninterrupted run ends with.</summary>
public sealed class ServerCrashResumeTests
{
    // More rounds than the crash points, so each run is interrupted mid-run.
    private const int Rounds = 30;

    private static Dictionary<string, string> CrashAt(string point) => new() { ["COHORT_TEST_CRASH_AT"] = point };

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task A_fedadam_run_whose_server_is_killed_mid_run_ends_with_the_uninterrupted_runs_model()
    {
        int port = FreePort();
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-srv-" + Guid.NewGuid().ToString("N")[..8]);
        var server = await ServerProcess.StartInAsync(dataDir, port, CrashAt("aggregate:4"));
        var hospitals = new[] { "cleveland", "hungarian", "va" };
        var nodes = new List<CliProcess>();
        try
        {
            await StartHospitalsAsync(server, hospitals, nodes);

            string plan = PlanText.WithValues(TestPlans.Heart(rounds: Rounds, nodes: 3, minFit: 3),
                [("strategy.name", "fedadam"), ("round_timeout", "60s"), ("wait_for_nodes", "60s")]);
            var crashed = await server.Control.SubmitAsync(plan, "crashed", default);
            // The server kills itself (SIGKILL) while aggregating round 4: watching the run from here and
            // killing it would miss a run that finishes its rounds between two looks.
            await server.WaitForExitAsync(TimeSpan.FromSeconds(120));

            server = await ServerProcess.StartInAsync(dataDir, port);
            var resumed = await server.WaitForRunAsync(crashed.Id);
            Assert.True(resumed.Run.Status == "finished", resumed.Run.Error);
            Assert.Contains(resumed.Events, e => e.Contains("run.resumed", StringComparison.Ordinal) && e.Contains("strategy state restored from round", StringComparison.Ordinal));
            Assert.DoesNotContain(resumed.Events, e => e.Contains("run.checkpoint_fallback", StringComparison.Ordinal));

            var uninterrupted = await server.Control.SubmitAsync(plan, "uninterrupted", default);
            var detail = await server.WaitForRunAsync(uninterrupted.Id);
            Assert.True(detail.Run.Status == "finished", detail.Run.Error);

            var (expected, _) = await server.Control.PullModelAsync(uninterrupted.Id, 0, default);
            var (actual, _) = await server.Control.PullModelAsync(crashed.Id, 0, default);
            Assert.Equal(expected.SelectMany(t => t.Data).ToArray(), actual.SelectMany(t => t.Data).ToArray());
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_sampled_run_resumed_while_some_nodes_are_slow_to_return_waits_for_them_and_ends_with_the_uninterrupted_runs_model()
    {
        int port = FreePort();
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-srv-" + Guid.NewGuid().ToString("N")[..8]);
        var server = await ServerProcess.StartInAsync(dataDir, port, CrashAt("aggregate:4"));
        var hospitals = new[] { "cleveland", "hungarian", "switzerland", "va" };
        var tokens = new Dictionary<string, string>();
        var nodes = new Dictionary<string, CliProcess>();
        try
        {
            foreach (var h in hospitals)
            {
                tokens[h] = await server.Control.CreateNodeTokenAsync(h, default);
                nodes[h] = server.StartNode(h, tokens[h], "tabular", "--data", Repo.HeartData(h));
            }
            await server.WaitForNodesAsync(hospitals.Length, [.. nodes.Values]);

            // Two of the four nodes train each round, drawn by the round's seed from those connected; two suffice to start one.
            string plan = PlanText.WithValues(TestPlans.Heart(rounds: Rounds, nodes: 2, minFit: 2),
                [("selection.fraction_fit", "0.5"), ("round_timeout", "60s"), ("wait_for_nodes", "60s")]);
            var crashed = await server.Control.SubmitAsync(plan, "crashed", default);
            await server.WaitForExitAsync(TimeSpan.FromSeconds(120));
            // Two nodes are slow to come back: they return a few seconds after the server, long enough for many rounds.
            foreach (var h in new[] { "switzerland", "va" }) await nodes[h].DisposeAsync();

            server = await ServerProcess.StartInAsync(dataDir, port);
            await Task.Delay(TimeSpan.FromSeconds(4));
            foreach (var h in new[] { "switzerland", "va" }) nodes[h] = server.StartNode(h, tokens[h], "tabular", "--data", Repo.HeartData(h));
            var resumed = await server.WaitForRunAsync(crashed.Id);
            Assert.True(resumed.Run.Status == "finished", resumed.Run.Error);

            // The reference run has all four nodes from its start, as the crashed one had.
            await server.WaitForNodesAsync(hospitals.Length, [.. nodes.Values]);
            var uninterrupted = await server.Control.SubmitAsync(plan, "uninterrupted", default);
            var detail = await server.WaitForRunAsync(uninterrupted.Id);
            Assert.True(detail.Run.Status == "finished", detail.Run.Error);

            // The same nodes trained in every round, and the models are the same bytes.
            static string Trained(Cohort.Transport.V1.RunDetail d) => string.Join(" | ", d.Rounds.OrderBy(r => r.Round)
                .Select(r => $"{r.Round}: {string.Join(",", r.Nodes.Where(n => n.Phase == "fit" && n.Ok).Select(n => n.Node).Order(StringComparer.Ordinal))}"));
            Assert.Equal(Trained(detail), Trained(resumed));
            var (expected, _) = await server.Control.PullModelAsync(uninterrupted.Id, 0, default);
            var (actual, _) = await server.Control.PullModelAsync(crashed.Id, 0, default);
            Assert.Equal(expected.SelectMany(t => t.Data).ToArray(), actual.SelectMany(t => t.Data).ToArray());
            Assert.Contains(resumed.Events, e => e.Contains("run.nodes_ready", StringComparison.Ordinal) && e.Contains("every node connected before the restart is back", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var n in nodes.Values) await n.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_run_resumed_without_a_node_that_never_returns_goes_on_after_wait_for_nodes_and_names_it()
    {
        int port = FreePort();
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-srv-" + Guid.NewGuid().ToString("N")[..8]);
        var server = await ServerProcess.StartInAsync(dataDir, port, CrashAt("aggregate:2"));
        var hospitals = new[] { "cleveland", "hungarian", "va" };
        var nodes = new List<CliProcess>();
        try
        {
            await StartHospitalsAsync(server, hospitals, nodes);
            // Long enough for the two returning nodes' reconnect backoff on a busy machine, short enough not to wait long for va.
            string plan = PlanText.WithValues(TestPlans.Heart(rounds: 4, nodes: 2, minFit: 2), [("round_timeout", "60s"), ("wait_for_nodes", "8s")]);
            var crashed = await server.Control.SubmitAsync(plan, "crashed", default);
            await server.WaitForExitAsync(TimeSpan.FromSeconds(120));
            // va does not come back.
            await nodes[2].DisposeAsync();
            nodes.RemoveAt(2);

            server = await ServerProcess.StartInAsync(dataDir, port);
            var resumed = await server.WaitForRunAsync(crashed.Id);

            Assert.True(resumed.Run.Status == "finished", resumed.Run.Error);
            Assert.Contains(resumed.Events, e => e.Contains("run.resumed_short", StringComparison.Ordinal) && e.Contains("without va, connected before the restart and not back after 8s", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Two_runs_whose_server_is_killed_mid_run_resume_side_by_side_and_both_end_with_the_uninterrupted_runs_model()
    {
        int port = FreePort();
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-srv-" + Guid.NewGuid().ToString("N")[..8]);
        var server = await ServerProcess.StartInAsync(dataDir, port, CrashAt("aggregate:6"));
        var hospitals = new[] { "cleveland", "hungarian", "va" };
        var nodes = new List<CliProcess>();
        try
        {
            await StartHospitalsAsync(server, hospitals, nodes);

            string plan = PlanText.WithValues(TestPlans.Heart(rounds: Rounds, nodes: 3, minFit: 3),
                [("strategy.name", "fedadam"), ("round_timeout", "60s"), ("wait_for_nodes", "60s")]);
            var crashed = new[] { await server.Control.SubmitAsync(plan, "crashed-1", default), await server.Control.SubmitAsync(plan, "crashed-2", default) };
            // The first run to aggregate round 6 kills the server; the other, sharing the nodes, is a round or so behind.
            await server.WaitForExitAsync(TimeSpan.FromSeconds(120));

            server = await ServerProcess.StartInAsync(dataDir, port);
            var resumed = new List<Cohort.Transport.V1.RunDetail>();
            foreach (var run in crashed) resumed.Add(await server.WaitForRunAsync(run.Id));
            var spans = new List<(DateTimeOffset Start, DateTimeOffset End)>();
            foreach (var detail in resumed)
            {
                Assert.True(detail.Run.Status == "finished", detail.Run.Error);
                string resumedEvent = Assert.Single(detail.Events, e => e.Contains("run.resumed", StringComparison.Ordinal));
                Assert.Contains("strategy state restored from round", resumedEvent, StringComparison.Ordinal);
                // "resumed at round N": the rounds from N on ran after the restart.
                var words = resumedEvent[resumedEvent.IndexOf("resumed at round ", StringComparison.Ordinal)..].Split(' ');
                int from = int.Parse(words[3], System.Globalization.CultureInfo.InvariantCulture);
                var after = detail.Rounds.Where(r => r.Round >= from).ToArray();
                Assert.NotEmpty(after);
                spans.Add((after.Min(r => DateTimeOffset.Parse(r.StartedAt, System.Globalization.CultureInfo.InvariantCulture)),
                    after.Max(r => DateTimeOffset.Parse(r.FinishedAt, System.Globalization.CultureInfo.InvariantCulture))));
            }
            // Side by side after the restart: each resumed run started a round before the other's last one ended.
            Assert.True(spans[0].Start < spans[1].End && spans[1].Start < spans[0].End, $"resumed runs ran one after the other: {spans[0]} and {spans[1]}");

            var uninterrupted = await server.Control.SubmitAsync(plan, "uninterrupted", default);
            var detailAlone = await server.WaitForRunAsync(uninterrupted.Id);
            Assert.True(detailAlone.Run.Status == "finished", detailAlone.Run.Error);
            var (expected, _) = await server.Control.PullModelAsync(uninterrupted.Id, 0, default);
            foreach (var run in crashed)
            {
                var (actual, _) = await server.Control.PullModelAsync(run.Id, 0, default);
                Assert.Equal(expected.SelectMany(t => t.Data).ToArray(), actual.SelectMany(t => t.Data).ToArray());
            }
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    // One heart-disease node per hospital, each with its own token, added to nodes as it starts; returns once all are online.
    private static async Task StartHospitalsAsync(ServerProcess server, IReadOnlyList<string> hospitals, List<CliProcess> nodes)
    {
        foreach (var h in hospitals)
            nodes.Add(server.StartNode(h, await server.Control.CreateNodeTokenAsync(h, default), "tabular", "--data", Repo.HeartData(h)));
        await server.WaitForNodesAsync(hospitals.Count, nodes);
    }
}
