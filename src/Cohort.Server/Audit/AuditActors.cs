using Cohort.Server.Security.Provisioning;
using Microsoft.AspNetCore.Http;

namespace Cohort.Server.Audit;

/// <summary>How the ledger names who did something: <c>admin</c>, <c>admin-cert:NAME</c>, <c>node:NAME</c>, <c>viewer:NAME</c>, <c>address:IP</c>.</summary>
public static class AuditActors
{
    /// <summary>The operator behind a Control call: the admin certificate's name when one was presented, else the admin token.</summary>
    public static string Operator(HttpContext http) =>
        http.Connection.ClientCertificate is { } c && FederationNames.KindOf(c) == CertificateKind.Admin
            ? $"admin-cert:{FederationNames.NameOf(c.SubjectName)}"
            : "admin";

    /// <summary>A node.</summary>
    public static string Node(string name) => $"node:{name}";

    /// <summary>A dashboard user by name and role.</summary>
    public static string Dashboard(Security.AccessIdentity identity) => identity.IsAdmin && identity.Name == "admin" ? "admin" : $"{identity.Role.ToString().ToLowerInvariant()}:{identity.Name}";

    /// <summary>A caller known only by its address.</summary>
    public static string Address(HttpContext http) => $"address:{http.Connection.RemoteIpAddress?.ToString() ?? "unknown"}";

    /// <summary>" with client certificate CN (SHA-256 …)" for a connection that presented one, else "".</summary>
    public static string CertificateNote(HttpContext http) =>
        http.Connection.ClientCertificate is { } c
            ? $" with client certificate {c.Subject} (SHA-256 {Convert.ToHexStringLower(c.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256))})"
            : "";
}
