using Cohort.Server.Security;
using Cohort.Server.Security.Provisioning;
using Microsoft.AspNetCore.Http;

namespace Cohort.Server.Audit;

/// <summary>How the ledger names who did something: <c>admin</c>, <c>admin-cert:NAME</c>, <c>node:NAME</c>, <c>viewer:NAME</c>, <c>address:IP</c>.</summary>
internal static class AuditActors
{
    /// <summary>
    /// The operator behind a Control call: the identity the call gate admitted (user, token or certificate, with
    /// its role); before admission, the admin certificate's name when one was presented, else the admin token.
    /// </summary>
    public static string Operator(HttpContext http) =>
        OperatorAuthenticator.Admitted(http) is { } who ? Of(who)
        : ClientCertificates.OrNone(http) is { } c && FederationNames.KindOf(c) == CertificateKind.Admin
            ? $"admin-cert:{FederationNames.NameOf(c.SubjectName)}"
            : "admin";

    /// <summary>A node.</summary>
    public static string Node(string name) => $"node:{name}";

    /// <summary>An operator by role and name (<c>operator:NAME</c>); the admin token is plain <c>admin</c>.</summary>
    public static string Of(AccessIdentity identity) => identity.IsAdmin && identity.Name == "admin" ? "admin" : $"{Permissions.NameOf(identity.Role)}:{identity.Name}";

    /// <summary>A caller known only by its address.</summary>
    public static string Address(HttpContext http) => $"address:{http.Connection.RemoteIpAddress?.ToString() ?? "unknown"}";

    /// <summary>" with client certificate CN (SHA-256 …)" for a connection that presented one, else "".</summary>
    public static string CertificateNote(HttpContext http) =>
        ClientCertificates.OrNone(http) is { } c
            ? $" with client certificate {c.Subject} (SHA-256 {Convert.ToHexStringLower(c.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256))})"
            : "";
}
