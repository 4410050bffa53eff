using System.Collections.Concurrent;
using Cohort.Audit;
using Cohort.Engine.State;
using Grpc.Core;

namespace Cohort.Server.Security;

/// <summary>Maps a node's bearer token to its name, through the stored token hashes.</summary>
internal sealed class NodeAuthenticator(IStateStore store, NodeCertificates certificates, AuditLedger ledger, FailedAuthentications failures)
{
    private readonly ConcurrentDictionary<string, string> _byHash = new(StringComparer.Ordinal);

    // Hashes of tokens revoked while this process ran, with their nodes: such a node is told why it is refused. After a
    // restart the hash is simply unknown.
    private readonly ConcurrentDictionary<string, string> _revoked = new(StringComparer.Ordinal);

    // Counts replacements and revocations: a store lookup that began before one must not put its answer in the cache.
    private long _changes;

    /// <summary>Issues a new token for <paramref name="node"/> (replacing any earlier one) and stores only its hash.</summary>
    public async Task<string> IssueAsync(string node, CancellationToken ct)
    {
        string token = Tokens.New();
        Interlocked.Increment(ref _changes);
        await store.SetNodeTokenAsync(node, Tokens.Hash(token), ct);
        Forget(node, revoked: false);
        return token;
    }

    /// <summary>
    /// Deletes the stored hash of <paramref name="node"/>'s token: from now on it authenticates nothing, open calls
    /// included (each turn authenticates again). False when the node holds no token.
    /// </summary>
    public async Task<bool> RevokeAsync(string node, CancellationToken ct)
    {
        Interlocked.Increment(ref _changes);
        bool revoked = await store.RevokeNodeTokenAsync(node, ct);
        Forget(node, revoked);
        return revoked;
    }

    // Drops the node's cached hashes, after the store has changed; a revoked one is remembered for the refusal's reason.
    private void Forget(string node, bool revoked)
    {
        foreach (var kv in _byHash.Where(kv => kv.Value == node))
        {
            _byHash.TryRemove(kv.Key, out _);
            if (revoked) _revoked[kv.Key] = node;
        }
    }

    /// <summary>The node a bearer token belongs to, or null when it is empty or unknown.</summary>
    public async Task<string?> FindAsync(string? token, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token)) return null;
        string hash = Tokens.Hash(token);
        if (_byHash.TryGetValue(hash, out var name)) return name;
        long changes = Interlocked.Read(ref _changes);
        name = await store.FindNodeByTokenHashAsync(hash, ct);
        if (name is not null && Interlocked.Read(ref _changes) == changes) _byHash[hash] = name;
        return name;
    }

    /// <summary>Why a node token that <see cref="FindAsync"/> did not find is refused: missing, revoked (naming the node) or unknown.</summary>
    public string Refusal(string? token)
    {
        if (string.IsNullOrEmpty(token)) return "missing node token (authorization: Bearer <token>)";
        return _revoked.TryGetValue(Tokens.Hash(token), out var node)
            ? $"the token of node '{node}' has been revoked; the node may not connect until it is given a new token (cohort token create {node})"
            : "unknown node token";
    }

    /// <summary>The calling node's name; throws Unauthenticated when the token is missing or unknown.</summary>
    public async Task<string> AuthenticateAsync(ServerCallContext context)
    {
        string? token = Tokens.FromHeader(context.RequestHeaders.GetValue("authorization"));
        string name = await FindAsync(token, context.CancellationToken) ?? throw new RpcException(new Status(StatusCode.Unauthenticated, Refusal(token)));
        try
        {
            certificates.Demand(context, name);
        }
        catch (RpcException e)
        {
            // Counted like a wrong token, so a client cannot fill the ledger with refusals faster than the limit allows.
            var http = context.GetHttpContext();
            failures.Count(FailedAuthentications.KeyOf(http));
            ledger.Append(new AuditEvent(AuditKinds.CertificateRefused, Server.Audit.AuditActors.Address(http), $"node '{name}' refused: {e.Status.Detail}") { Node = name });
            throw;
        }
        return name;
    }
}
