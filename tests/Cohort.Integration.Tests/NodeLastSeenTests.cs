using Cohort.Apps;
using Cohort.Apps.Empty;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>After a restart, a node that has not come back shows when it was last heard from, not when it registered.</summary>
public sealed class NodeLastSeenTests
{
    [Fact]
    public async Task A_node_not_yet_back_after_a_restart_shows_its_last_heartbeat_before_the_stop()
    {
        var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(2));
        string dataDir = server.DataDir;
        using var stop = new CancellationTokenSource();
        var running = await server.StartNodesAsync(new Dictionary<string, IClientApp> { ["clinic"] = new EmptyApp(4, TimeSpan.Zero) }, "empty", stop.Token);
        try
        {
            await server.WaitForNodesAsync(1, TimeSpan.FromSeconds(60));
            var registered = DateTimeOffset.Parse((await server.Control.ListNodesAsync(default)).Single().LastHeartbeat);
            await Task.Delay(TimeSpan.FromSeconds(4));
            var beforeStop = DateTimeOffset.Parse((await server.Control.ListNodesAsync(default)).Single().LastHeartbeat);
            Assert.True(beforeStop - registered >= TimeSpan.FromSeconds(2), $"heartbeats did not move the live time: {registered:O} then {beforeStop:O}");

            await server.StopAsync();
            // Another port: the node keeps calling the old one, so it cannot come back and refresh the time.
            server = await TestServer.StartAsync(dataDir, TestServer.FreePort(), nodeTimeout: TimeSpan.FromSeconds(2));

            var shown = (await server.Control.ListNodesAsync(default)).Single();
            Assert.Equal("offline", shown.Status);
            Assert.True(DateTimeOffset.Parse(shown.LastHeartbeat) >= beforeStop,
                $"after the restart the last heartbeat is {shown.LastHeartbeat}, before the stop it was {beforeStop:O} (registered {registered:O})");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            await server.DisposeAsync();
        }
    }
}
