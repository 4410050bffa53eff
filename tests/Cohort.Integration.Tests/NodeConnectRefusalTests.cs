using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>Node processes that cannot help by retrying stop with one clear line: a name already in use, a server certificate not trusted, an address without the Fleet API.</summary>
public sealed class NodeConnectRefusalTests
{
    [Fact]
    public async Task A_second_process_with_a_live_nodes_name_is_refused_and_a_quickly_restarted_node_registers_again()
    {
        await using var server = await TestServer.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("twin", default);
        await using var first = CliProcess.StartNode(server, "twin", token, "empty");
        await server.WaitForNodesAsync(1, processes: [first]);

        await using var second = CliProcess.StartNode(server, "twin", token, "empty");
        Assert.Equal(1, await second.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("node 'twin' is already connected from ", second.Output);
        Assert.Contains("; stop the other process or use another name", second.Output);
        Assert.DoesNotContain("retrying", second.Output);
        Assert.DoesNotContain("   at ", second.Output);
        Assert.True(first.IsRunning, first.Output);

        // A crashed node restarted at once finds its dead session still fresh; once that session stays silent, it registers.
        first.Kill();
        await using var restarted = CliProcess.StartNode(server, "twin", token, "empty");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!restarted.Output.Contains("registered with", StringComparison.Ordinal))
        {
            Assert.True(restarted.IsRunning, restarted.Output);
            Assert.True(DateTime.UtcNow < deadline, "restarted node did not register: " + restarted.Output);
            await Task.Delay(100);
        }
        await server.WaitForNodesAsync(1, processes: [restarted]);
    }

    [Fact]
    public async Task A_node_that_does_not_trust_the_server_certificate_exits_with_one_line_naming_it()
    {
        await using var server = await TestServer.StartAsync();
        string otherCa = Path.Combine(server.DataDir, "other-ca");
        var (code, output) = await CliProcess.RunAsync(["certs", "init", "--dir", otherCa]);
        Assert.True(code == 0, output);
        string token = await server.Control.CreateNodeTokenAsync("distrustful", default);

        await using var node = CliProcess.Start(
            ["node", "--server", server.Host.Address.ToString(), "--name", "distrustful", "--app", "empty", "--ca", Path.Combine(otherCa, "ca.crt")],
            new Dictionary<string, string> { ["COHORT_NODE_TOKEN"] = token });
        Assert.Equal(1, await node.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("the server certificate of", node.Output);
        Assert.Contains("is not trusted", node.Output);
        Assert.Single(node.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("certificate", StringComparison.Ordinal));
        Assert.DoesNotContain("unreachable", node.Output);
        Assert.DoesNotContain("   at ", node.Output);
        Assert.Equal("never connected", (await server.Control.ListNodesAsync(default)).Single(n => n.Name == "distrustful").Status);
    }

    [Fact]
    public async Task A_node_pointed_at_the_dashboard_port_exits_with_one_line_naming_the_api_port()
    {
        await using var server = await TestServer.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("misdirected", default);

        await using var node = CliProcess.Start(
            ["node", "--server", server.Host.DashboardAddress!.ToString(), "--name", "misdirected", "--app", "empty", "--ca", server.Host.CaFile!],
            new Dictionary<string, string> { ["COHORT_NODE_TOKEN"] = token });
        Assert.Equal(1, await node.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("does not serve Cohort's Fleet API", node.Output);
        Assert.Contains($"answer on port {server.Port}, not on the dashboard's", node.Output);
        Assert.DoesNotContain("retrying", node.Output);
        Assert.DoesNotContain("   at ", node.Output);
    }
}
