using System.Diagnostics;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>A node process stopped cleanly (SIGTERM, as systemd or Kubernetes stop it) while it works on a task.</summary>
public sealed class NodeStopTests
{
    [Fact]
    public async Task A_node_stopped_mid_task_says_which_task_it_leaves_and_what_the_server_does_with_it()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = CliProcess.StartNode(server, "slow", await server.Control.CreateNodeTokenAsync("slow", default), "empty", "--set", "delay_ms=30000");
        await server.WaitForNodesAsync(1, processes: [node]);
        await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, timeout: "60s"), "stop", default);
        // The fit task (30 s) is running when the node's heartbeats report it busy twice, a second apart (the preflight and
        // get-parameters tasks take milliseconds).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        int busy = 0;
        while (busy < 2 && DateTime.UtcNow < deadline)
        {
            busy = (await server.Control.ListNodesAsync(default)).Single().Status == "busy" ? busy + 1 : 0;
            await Task.Delay(1000);
        }
        Assert.Equal(2, busy);

        using (var term = Process.Start("kill", ["-TERM", node.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await term.WaitForExitAsync();
        await node.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.True(node.Output.Contains("Node slow: stopping with task ", StringComparison.Ordinal), node.Output);
        Assert.Contains("unanswered (Fit, run ", node.Output);
        Assert.Contains("the server gives it to this node again if it is back before the round ends", node.Output);
    }
}
