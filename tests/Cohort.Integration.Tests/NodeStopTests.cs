using Cohort.Cli.Commands;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Node;
using Cohort.Transport.Channels;

namespace Cohort.Integration.Tests;

/// <summary>Stopping a connected node is quiet: the calls the stop cancels are not reported as an outage.</summary>
public sealed class NodeStopTests
{
    [Fact]
    public async Task A_node_stopped_while_connected_logs_no_warning()
    {
        await using var server = await TestServer.StartAsync();
        var log = new CountingLogger();
        using var stop = new CancellationTokenSource();
        var options = new NodeOptions
        {
            Connection = new ConnectionOptions(server.Host.Address.ToString(), await server.Control.CreateNodeTokenAsync("quiet", default), server.Host.CaFile),
            Name = "quiet",
            Logger = log,
        };
        var node = CohortNode.RunAsync(new Cohort.Apps.Empty.EmptyAppFactory(), options, stop.Token);
        await server.WaitForNodesAsync(1);
        // Once registered the node always has a task poll waiting at the server, which the stop cancels.
        await stop.CancelAsync();
        await node.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, log.Warnings);
        Assert.Empty(log.FirstMessages);
    }
}
