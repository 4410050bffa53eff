using Cohort.Engine.Nodes;
using Cohort.Engine.State;
using Cohort.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Fleet;

/// <summary>
/// Marks nodes that stopped heartbeating offline (the server's heartbeat timeout). Their open tasks
/// wait for them to return until the plan's <c>failure.offline_grace</c> or the round timeout passes,
/// so a node that restarts within the round still answers. Heartbeats live in memory; every
/// <see cref="SeenWritePeriod"/> and when the server stops, the connected nodes' last sign of life is written to the
/// store, so after a restart (or a crash) <c>cohort nodes</c> shows when each was last heard from, not when it registered.
/// </summary>
internal sealed class NodeMonitor(NodeRegistry registry, TaskBoard board, OfflineNodes offline, IStateStore store, ServerOptions options, ILogger<NodeMonitor> log) : BackgroundService
{
    /// <summary>How often the connected nodes' last sign of life reaches the store (one small write per node).</summary>
    internal static readonly TimeSpan SeenWritePeriod = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(options.NodeTimeout.TotalMilliseconds / 8, 50, 1000));
        using var timer = new PeriodicTimer(period);
        var lag = new ServerLag(options.NodeTimeout);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var due = period;
        var seenWriteDue = SeenWritePeriod;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = clock.Elapsed;
            // A tick that runs late means the server was behind on everything, the heartbeats it had received included.
            lag.Tick(now, now - due);
            due = now + period;
            // Back from being away longer than a node may be silent: the nodes' heartbeats are read first.
            foreach (var node in lag.Away ? [] : registry.Sweep(options.NodeTimeout + lag.Allowance))
            {
                string reason = $"node offline (no heartbeat for {options.NodeTimeout.TotalSeconds:0.#}s)";
                offline.TasksLost(node.Name, reason);
                log.LogWarning("Node {Node} is offline: {Reason}", node.Name, reason);
                await offline.RecordAsync(node.Name, node.LastSeen, reason, stoppingToken);
            }
            foreach (var task in board.ExpireLost(registry.IsOnline))
                log.LogWarning("Task {Task} of node {Node} failed: the node stayed offline past the plan's offline grace", task.Id, task.Node);
            if (now >= seenWriteDue)
            {
                seenWriteDue = now + SeenWritePeriod;
                try
                {
                    // After the sweep, in the same loop: a node it just found offline keeps the offline row it wrote.
                    await WriteLastSeenAsync(stoppingToken);
                }
                catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or IOException)
                {
                    // A database briefly away (a failover, a long lock) costs one write of a display value, not the server.
                    log.LogWarning("The nodes' last heartbeats were not written: {Error}", e.Message);
                }
                // The writes take as long as the database does (one per connected node): not the server falling behind.
                due = clock.Elapsed + period;
            }
        }
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await WriteLastSeenAsync(cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or System.Data.Common.DbException or ObjectDisposedException or InvalidOperationException or TimeoutException or IOException)
        {
            log.LogWarning("The nodes' last heartbeats were not written at stop: {Error}", e.Message);
        }
    }

    private async Task WriteLastSeenAsync(CancellationToken ct)
    {
        foreach (var node in registry.All.Where(n => n.Online))
            await store.UpdateNodeAsync(new NodeRecord(node.Name, NodeStatus.Online, node.LastSeen, null, null, null), ct);
    }
}
