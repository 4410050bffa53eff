using Grpc.Core;

namespace Cohort.Server.Security.Provisioning;

/// <summary>
/// Operator certificates on the Control API: a client certificate of kind admin, issued by the server's client CA
/// and not revoked, authenticates its holder with the role it carries (viewer, operator or admin).
/// </summary>
internal sealed class AdminCertificates(RevocationListFile revocations)
{
    /// <summary>
    /// The holder of the connection's admin certificate, with its role; null when it carries no admin certificate
    /// (the token decides); throws PermissionDenied for a revoked one or one with an unknown role (Unavailable while the revocation list is unusable).
    /// </summary>
    public AccessIdentity? Identify(Microsoft.AspNetCore.Http.HttpContext http)
    {
        // Kestrel has already checked that a presented certificate chains to the client CA.
        var certificate = ClientCertificates.Of(http);
        if (certificate is null || FederationNames.KindOf(certificate) != CertificateKind.Admin) return null;
        if (revocations.Refusal(certificate) is { } refusal) throw new RpcException(refusal);
        string name = FederationNames.NameOf(certificate.SubjectName) ?? "?";
        try
        {
            return new AccessIdentity(name, Permissions.ParseRole(FederationNames.RoleOf(certificate) ?? "none")) { Origin = "certificate:" + name };
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"admin certificate for '{name}': {e.Message}"));
        }
    }
}
