using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>Sites that die mid-round.</summary>
public sealed class FailureTests
{
    [Theory]
    [InlineData(2, "finished")]
    [InlineData(3, "failed")]
    public async Task A_node_killed_mid_round_without_offline_grace_fails_fast_and_the_round_follows_min_fit(int minFit, string expectedStatus)
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(1.5));
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var name in new[] { "n1", "n2", "n3" })
                nodes.Add(CliProcess.StartNode(server, name, await server.Control.CreateNodeTokenAsync(name, default), "empty", "--set", "delay_ms=4000"));
            await server.WaitForNodesAsync(3, processes: nodes);

            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 3, minFit: minFit, timeout: "120s", offlineGrace: "0"), "kill", default);
            await WaitUntilBusyAsync(server, "n3");
            nodes[2].Kill();
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.Equal(expectedStatus, detail.Run.Status);
            var round = Assert.Single(detail.Rounds);
            var failure = Assert.Single(round.Nodes, n => !n.Ok);
            Assert.Equal("n3", failure.Node);
            // The dead node's task failed when its heartbeats stopped ("offline"), not by the 120 s round timeout.
            Assert.Contains("offline", failure.Error);
            if (expectedStatus == "finished")
            {
                Assert.Equal(2, round.Nodes.Count(n => n.Phase == "fit" && n.Ok));
            }
            else
            {
                Assert.Contains("min_fit is 3", detail.Run.Error);
                Assert.Contains("n3: node offline", detail.Run.Error);
            }
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_node_killed_mid_fit_and_restarted_within_the_round_timeout_answers_and_the_round_completes()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(1.5));
        var nodes = new List<CliProcess>();
        try
        {
            var tokens = new Dictionary<string, string>();
            foreach (var name in new[] { "n1", "n2", "n3" })
            {
                tokens[name] = await server.Control.CreateNodeTokenAsync(name, default);
                nodes.Add(CliProcess.StartNode(server, name, tokens[name], "empty", "--set", "delay_ms=3000"));
            }
            await server.WaitForNodesAsync(3, processes: nodes);

            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 3, minFit: 3, timeout: "120s"), "restart", default);
            await WaitUntilBusyAsync(server, "n3");
            nodes[2].Kill();
            // Wait until the server has noticed (heartbeat timeout): the task must survive the node being offline.
            await WaitUntilStatusAsync(server, "n3", "offline");
            nodes.Add(CliProcess.StartNode(server, "n3", tokens["n3"], "empty", "--set", "delay_ms=3000"));
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.Equal("finished", detail.Run.Status);
            var round = Assert.Single(detail.Rounds);
            Assert.Equal(["n1", "n2", "n3"], round.Nodes.Where(n => n.Phase == "fit" && n.Ok).Select(n => n.Node).Order(StringComparer.Ordinal));
            Assert.DoesNotContain(round.Nodes, n => !n.Ok);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Stopping_a_running_run_ends_it_as_stopped_and_the_nodes_serve_the_next_run()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var name in new[] { "n1", "n2" })
                nodes.Add(CliProcess.StartNode(server, name, await server.Control.CreateNodeTokenAsync(name, default), "empty", "--set", "delay_ms=300"));
            await server.WaitForNodesAsync(2, processes: nodes);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 100, minAvailable: 2, minFit: 2), "long", default);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await server.Control.GetAsync(run.Id, default)).Run.RoundsDone < 1)
            {
                Assert.True(DateTime.UtcNow < deadline, "the run did not finish round 1");
                await Task.Delay(50);
            }

            var stopped = await server.Control.StopAsync(run.Id, default);

            Assert.Equal("stopped", stopped.Status);
            var detail = await server.Control.GetAsync(run.Id, default);
            Assert.True(detail.Run.RoundsDone < 100);
            Assert.Contains(detail.Events, e => e.Contains("run.stopped", StringComparison.Ordinal));
            var next = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 2, minFit: 2), "next", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(next.Id)).Run.Status);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    private static Task WaitUntilBusyAsync(TestServer server, string node) => WaitUntilStatusAsync(server, node, "busy");

    private static async Task WaitUntilStatusAsync(TestServer server, string node, string status)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var nodes = await server.Control.ListNodesAsync(default);
            if (nodes.Any(n => n.Name == node && n.Status == status)) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"node {node} never became {status}");
    }
}
