using Cohort.Clients;
using Cohort.Engine.Nodes;
using Cohort.Engine.State;
using Cohort.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Fleet;

/// <summary>Marks nodes that stopped heartbeating offline and fails their tasks at once, so rounds do not stall.</summary>
public sealed class NodeMonitor(NodeRegistry registry, TaskBoard board, IStateStore store, ServerOptions options, ILogger<NodeMonitor> log) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(options.NodeTimeout.TotalMilliseconds / 8, 50, 1000));
        using var timer = new PeriodicTimer(period);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var node in registry.Sweep(options.NodeTimeout))
            {
                string reason = $"node offline (no heartbeat for {options.NodeTimeout.TotalSeconds:0.#}s)";
                board.FailNode(node.Name, FailureKind.Offline, reason);
                log.LogWarning("Node {Node} is offline: {Reason}", node.Name, reason);
                await store.UpdateNodeAsync(new NodeRecord(node.Name, NodeStatus.Offline, node.LastSeen, null, null, null), stoppingToken);
                await store.AddEventAsync(null, "node.offline", $"node '{node.Name}' {reason}", stoppingToken);
            }
        }
    }
}
