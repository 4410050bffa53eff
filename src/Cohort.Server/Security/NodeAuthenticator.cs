using System.Collections.Concurrent;
using Cohort.Audit;
using Cohort.Engine.State;
using Grpc.Core;

namespace Cohort.Server.Security;

/// <summary>Maps a node's bearer token to its name, through the stored token hashes.</summary>
internal sealed class NodeAuthenticator(IStateStore store, NodeCertificates certificates, AuditLedger ledger, FailedAuthentications failures)
{
    private readonly ConcurrentDictionary<string, string> _byHash = new(StringComparer.Ordinal);

    /// <summary>Issues a new token for <paramref name="node"/> (replacing any earlier one) and stores only its hash.</summary>
    public async Task<string> IssueAsync(string node, CancellationToken ct)
    {
        string token = Tokens.New();
        foreach (var kv in _byHash.Where(kv => kv.Value == node)) _byHash.TryRemove(kv.Key, out _);
        await store.SetNodeTokenAsync(node, Tokens.Hash(token), ct);
        return token;
    }

    /// <summary>The node a bearer token belongs to, or null when it is empty or unknown.</summary>
    public async Task<string?> FindAsync(string? token, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token)) return null;
        string hash = Tokens.Hash(token);
        if (_byHash.TryGetValue(hash, out var name)) return name;
        name = await store.FindNodeByTokenHashAsync(hash, ct);
        if (name is not null) _byHash[hash] = name;
        return name;
    }

    /// <summary>The calling node's name; throws Unauthenticated when the token is missing or unknown.</summary>
    public async Task<string> AuthenticateAsync(ServerCallContext context)
    {
        string? token = Tokens.FromHeader(context.RequestHeaders.GetValue("authorization"));
        if (token is null) throw new RpcException(new Status(StatusCode.Unauthenticated, "missing node token (authorization: Bearer <token>)"));
        string hash = Tokens.Hash(token);
        if (!_byHash.TryGetValue(hash, out var name))
        {
            name = await store.FindNodeByTokenHashAsync(hash, context.CancellationToken)
                ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "unknown node token"));
            _byHash[hash] = name;
        }
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
