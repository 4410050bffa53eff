using Grpc.Core;

namespace Cohort.Server.Security.Provisioning;

/// <summary>
/// Admin certificates on the Control API: a client certificate of kind admin, issued by the server's client CA
/// and not revoked, stands in for the admin token when its role is admin.
/// </summary>
internal sealed class AdminCertificates(RevocationListFile revocations)
{
    /// <summary>
    /// True when the connection carries an admin certificate with role admin; false when it carries no admin
    /// certificate (the token decides); throws PermissionDenied for a revoked one or one with a lesser role.
    /// </summary>
    public bool Admits(ServerCallContext context) => Admits(context.GetHttpContext());

    /// <inheritdoc cref="Admits(ServerCallContext)"/>
    public bool Admits(Microsoft.AspNetCore.Http.HttpContext http)
    {
        // Kestrel has already checked that a presented certificate chains to the client CA.
        var certificate = http.Connection.ClientCertificate;
        if (certificate is null || FederationNames.KindOf(certificate) != CertificateKind.Admin) return false;
        if (revocations.Refusal(certificate) is { } refusal) throw new RpcException(new Status(StatusCode.PermissionDenied, refusal));
        string role = FederationNames.RoleOf(certificate) ?? "none";
        if (role != "admin")
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"admin certificate for '{FederationNames.NameOf(certificate.SubjectName)}' has role {role}; the Control API needs role admin (or the admin token)"));
        return true;
    }
}
