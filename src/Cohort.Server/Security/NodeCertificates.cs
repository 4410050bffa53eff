using System.Security.Cryptography.X509Certificates;
using Grpc.Core;

namespace Cohort.Server.Security;

/// <summary>Mutual TLS for nodes: issues node certificates from the server's CA and, when required, checks that a caller's certificate names it.</summary>
public sealed class NodeCertificates(bool required, string? caDirectory)
{
    /// <summary>True when every node must present its certificate.</summary>
    public bool Required => required;

    /// <summary>Issues a certificate and key (PEM) for a node; throws when this server holds no CA key.</summary>
    public (string CertificatePem, string KeyPem) Issue(string node) => caDirectory is null
        ? throw new InvalidOperationException("this server has no CA of its own (it was given its certificate or runs without TLS); issue node certificates with your CA")
        : CertificateAuthority.IssueNodeCertificate(caDirectory, node);

    /// <summary>Throws PermissionDenied when mutual TLS is on and the connection's certificate does not belong to <paramref name="node"/>.</summary>
    public void Demand(ServerCallContext context, string node)
    {
        if (!required) return;
        // Kestrel has already checked that a presented certificate chains to the node CA.
        var certificate = context.GetHttpContext().Connection.ClientCertificate;
        if (certificate is null)
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"node '{node}' must present its client certificate (mutual TLS is required)"));
        string subject = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (subject != node)
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"client certificate is for '{subject}', not node '{node}'"));
    }
}
