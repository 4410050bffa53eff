using Cohort.Clients;
using Cohort.Server.Security;

namespace Cohort.Server.Fleet;

/// <summary>
/// What revoking a node's token does beyond deleting its hash: the node is offline at once (its next call is refused,
/// and it exits naming the revocation), and every task it holds fails now, whatever the plan's offline grace, so its
/// rounds go on without it as their minimums allow.
/// </summary>
internal sealed class NodeRevocation(NodeAuthenticator auth, NodeRegistry registry, TaskBoard board, OfflineNodes offline, RegistrationGate writes)
{
    /// <summary>The reason the node's tasks fail with, and its offline event gives.</summary>
    public const string Reason = "node token revoked";

    /// <summary>What a revocation found: whether the node was connected, and how many of its tasks failed.</summary>
    public readonly record struct Outcome(bool WasOnline, int TasksFailed);

    /// <summary>Revokes <paramref name="node"/>'s token; null when the node holds none.</summary>
    public async Task<Outcome?> RevokeAsync(string node, CancellationToken ct)
    {
        if (!await auth.RevokeAsync(node, ct)) return null;
        var left = registry.Disconnect(node);
        int failed = board.FailAll(node, FailureKind.Offline, Reason);
        // Queued behind the writes of the node's registrations, as a leave is, so its online record cannot land after this.
        var lastSeen = left?.LastSeen;
        if (left is not null)
            await writes.WriteAsync(() => offline.RecordAsync(node, lastSeen!.Value, $"is offline: {Reason}", CancellationToken.None), ct);
        return new Outcome(left is not null, failed);
    }
}
