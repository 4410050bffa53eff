using System.Security.Cryptography.X509Certificates;
using Cohort.Server.Security.Provisioning;
using Grpc.Core;

namespace Cohort.Server.Security;

/// <summary>Mutual TLS for nodes: issues node certificates from the server's CA and, when required, checks that a caller's certificate names it.</summary>
internal sealed class NodeCertificates(bool required, string? caDirectory, RevocationListFile? revocations = null)
{
    /// <summary>True when every node must present its certificate.</summary>
    public bool Required => required;

    /// <summary>Issues a certificate and key (PEM) for a node; throws when this server holds no CA key.</summary>
    public (string CertificatePem, string KeyPem) Issue(string node) => caDirectory is null
        ? throw new InvalidOperationException("this server has no CA of its own (it was given its certificate or runs without TLS); issue node certificates with your CA")
        : CertificateAuthority.IssueNodeCertificate(caDirectory, node);

    /// <summary>
    /// Throws PermissionDenied when the connection's certificate is revoked (Unavailable while the revocation list is unusable), or when mutual TLS is on and the
    /// certificate is missing, not a node certificate or does not belong to <paramref name="node"/>.
    /// </summary>
    public void Demand(ServerCallContext context, string node)
    {
        // Kestrel has already checked that a presented certificate chains to the node CA; revocation is checked
        // here, on every call, so a revoked site is cut off on its open connection too, with a reason it can print.
        var certificate = ClientCertificates.Of(context.GetHttpContext());
        if (certificate is not null && revocations?.Refusal(certificate) is { } refusal)
            throw new RpcException(refusal);
        if (!required) return;
        if (certificate is null)
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"node '{node}' must present its client certificate (mutual TLS is required)"));
        if (FederationNames.KindOf(certificate) is { } kind && kind != CertificateKind.Node)
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"client certificate for '{FederationNames.NameOf(certificate.SubjectName)}' is a {FederationNames.KindName(kind)} certificate, not a node certificate"));
        string subject = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (subject != node)
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"client certificate is for '{subject}', not node '{node}'"));
    }
}
