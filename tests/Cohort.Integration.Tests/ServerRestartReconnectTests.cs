using Cohort.Apps;
using Cohort.Apps.Empty;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>A fleet of nodes that loses its server at once comes back when the server restarts.</summary>
public sealed class ServerRestartReconnectTests
{
    private const int Nodes = 40;

    [Fact]
    public async Task Forty_nodes_all_come_back_online_after_a_server_restart_and_a_run_then_completes()
    {
        int port = TestServer.FreePort();
        var server = await TestServer.StartAsync(port: port, nodeTimeout: TimeSpan.FromSeconds(4));
        string dataDir = server.DataDir;
        using var stop = new CancellationTokenSource();
        var apps = Enumerable.Range(1, Nodes).ToDictionary(i => $"site{i:D2}", _ => (IClientApp)new EmptyApp(4, TimeSpan.Zero));
        var running = await server.StartNodesAsync(apps, "empty", stop.Token);
        try
        {
            await server.WaitForNodesAsync(Nodes, TimeSpan.FromSeconds(60));

            await server.StopAsync();
            server = await TestServer.StartAsync(dataDir, port, nodeTimeout: TimeSpan.FromSeconds(4));
            await server.WaitForNodesAsync(Nodes, TimeSpan.FromSeconds(90));

            Assert.DoesNotContain(running, t => t.IsCompleted);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 2, minAvailable: Nodes, minFit: Nodes, timeout: "60s"), "after-restart", default);
            var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromSeconds(120));
            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            Assert.Equal(2, detail.Rounds.Count);
            Assert.All(detail.Rounds, r => Assert.Equal(Nodes, r.Nodes.Count(n => n.Phase == "fit" && n.Ok)));
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            await server.DisposeAsync();
        }
    }
}
