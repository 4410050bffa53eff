using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Cohort.Server.Security;

/// <summary>
/// Turns an operator's credential into an identity, the same way for the Control API and the dashboard: the admin
/// token, an operator token, a session id (from a dashboard or Control API login), a user's password, or an
/// operator certificate.
/// </summary>
internal sealed class OperatorAuthenticator(AdminAuthenticator admin, ViewerTokens tokens, UserAccounts users, DashboardSessions sessions)
{
    private const string IdentityKey = "cohort.operator";

    /// <summary>The identity the call gate admitted for this call, or null before (or without) admission.</summary>
    public static AccessIdentity? Admitted(HttpContext http) => http.Items[IdentityKey] as AccessIdentity;

    /// <summary>The identity of a bearer <paramref name="token"/> (admin token, operator token or session id), or null.</summary>
    public AccessIdentity? Authenticate(string? token) => string.IsNullOrEmpty(token) ? null : FromToken(token) ?? Resume(token);

    /// <summary>The identity of the admin token or an operator token (not a session id), or null.</summary>
    public AccessIdentity? FromToken(string? token)
    {
        if (string.IsNullOrEmpty(token)) return null;
        if (admin.IsAdminToken(token)) return new AccessIdentity("admin", AccessRole.Admin) { Origin = "token:" + Tokens.Hash(token) };
        return tokens.Find(token) is { } t ? new AccessIdentity(t.Name, t.Role) { Origin = "token:" + Tokens.Hash(token) } : null;
    }

    /// <summary>
    /// The identity behind a live session, checked against the credential it started from: a session of a removed
    /// user or of a replaced token is refused, and a user's session carries the user's current role.
    /// </summary>
    public AccessIdentity? Resume(string sessionId)
    {
        if (sessions.Find(sessionId) is not { } started) return null;
        if (started.Origin.StartsWith("user:", StringComparison.Ordinal)) return users.Current(started.Origin["user:".Length..]) is { } now ? now : null;
        if (started.Origin.StartsWith("token:", StringComparison.Ordinal))
        {
            string hash = started.Origin["token:".Length..];
            if (admin.IsAdminTokenHash(hash)) return started with { Role = AccessRole.Admin };
            return tokens.FindByHash(hash) is { } t ? started with { Name = t.Name, Role = t.Role } : null;
        }
        return null;
    }

    /// <summary>The identity of <paramref name="user"/> when <paramref name="password"/> is theirs, or null.</summary>
    public AccessIdentity? LogIn(string user, string password) => users.Verify(user, password);

    /// <summary>
    /// Authenticates a Control API call from its headers (bearer token, else an operator certificate) and remembers
    /// the identity for the service; null when neither is there or the token is unknown. Throws PermissionDenied
    /// for a revoked certificate.
    /// </summary>
    public AccessIdentity? Admit(HttpContext http, string? token)
    {
        var who = string.IsNullOrEmpty(token) ? admin.CertificateIdentity(http) : Authenticate(token);
        if (who is not null) http.Items[IdentityKey] = who;
        return who;
    }

    /// <summary>The identity the call gate admitted; throws PermissionDenied naming the missing permission unless it has <paramref name="permission"/>.</summary>
    public AccessIdentity Demand(ServerCallContext context, Permission permission)
    {
        var http = context.GetHttpContext();
        // The gate always admits first; authenticating here too keeps the service safe without it.
        var who = http.Items[IdentityKey] as AccessIdentity
            ?? Admit(http, Tokens.FromHeader(context.RequestHeaders.GetValue("authorization")))
            ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "missing or unknown operator token (authorization: Bearer <token>)"));
        Permissions.Demand(who, permission);
        return who;
    }
}
