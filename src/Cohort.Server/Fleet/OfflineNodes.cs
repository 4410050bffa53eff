using Cohort.Clients;
using Cohort.Engine.Nodes;
using Cohort.Engine.State;

namespace Cohort.Server.Fleet;

/// <summary>
/// What the server does with a node it counts offline, whether its heartbeats stopped (<see cref="NodeMonitor"/>) or its
/// process said it was leaving (<see cref="FleetService.Leave"/>): one path, so runs, events, the dashboard and the
/// metrics see a leave as they see a timeout, told apart only by the reason.
/// </summary>
internal sealed class OfflineNodes(TaskBoard board, IStateStore store)
{
    /// <summary>The reason a node that left gives its tasks and its event.</summary>
    public const string LeftReason = "node left";

    /// <summary>
    /// The node's open tasks wait for it to return until the plan's <c>failure.offline_grace</c> or the round timeout
    /// passes (a plan without grace fails them now, with <paramref name="reason"/>).
    /// </summary>
    public void TasksLost(string node, string reason) => board.NodeLost(node, FailureKind.Offline, reason, offline: true);

    /// <summary>Writes the node's offline record (last heard from at <paramref name="lastSeen"/>) and its <c>node.offline</c> event.</summary>
    public async Task RecordAsync(string node, DateTimeOffset lastSeen, string reason, CancellationToken ct)
    {
        await store.UpdateNodeAsync(new NodeRecord(node, NodeStatus.Offline, lastSeen, null, null, null), ct);
        await store.AddEventAsync(null, "node.offline", $"node '{node}' {reason}", ct);
    }
}
