using Cohort.Clients;
using Cohort.Engine.Nodes;
using Cohort.Engine.State;
using Cohort.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Fleet;

/// <summary>
/// Marks nodes that stopped heartbeating offline (the server's heartbeat timeout). Their open tasks
/// wait for them to return until the plan's <c>failure.offline_grace</c> or the round timeout passes,
/// so a node that restarts within the round still answers.
/// </summary>
internal sealed class NodeMonitor(NodeRegistry registry, TaskBoard board, IStateStore store, ServerOptions options, ILogger<NodeMonitor> log) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(options.NodeTimeout.TotalMilliseconds / 8, 50, 1000));
        using var timer = new PeriodicTimer(period);
        var lag = new ServerLag(options.NodeTimeout);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var due = period;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = clock.Elapsed;
            // A tick that runs late means the server was behind on everything, the heartbeats it had received included.
            lag.Tick(now, now - due);
            due = now + period;
            foreach (var node in registry.Sweep(options.NodeTimeout + lag.Allowance))
            {
                string reason = $"node offline (no heartbeat for {options.NodeTimeout.TotalSeconds:0.#}s)";
                board.NodeLost(node.Name, FailureKind.Offline, reason, offline: true);
                log.LogWarning("Node {Node} is offline: {Reason}", node.Name, reason);
                await store.UpdateNodeAsync(new NodeRecord(node.Name, NodeStatus.Offline, node.LastSeen, null, null, null), stoppingToken);
                await store.AddEventAsync(null, "node.offline", $"node '{node.Name}' {reason}", stoppingToken);
            }
            foreach (var task in board.ExpireLost(registry.IsOnline))
                log.LogWarning("Task {Task} of node {Node} failed: the node stayed offline past the plan's offline grace", task.Id, task.Node);
        }
    }
}
