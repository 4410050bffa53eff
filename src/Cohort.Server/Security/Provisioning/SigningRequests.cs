using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cohort.Server.Security.Provisioning;

/// <summary>
/// Certificate signing requests (PKCS#10): a site makes its key and a request locally, the federation signs the
/// request, and the private key never leaves the site.
/// </summary>
internal static class SigningRequests
{
    /// <summary>Makes an ECDSA P-256 key and a request for <paramref name="name"/>; returns (request PEM, key PEM).</summary>
    public static (string RequestPem, string KeyPem) Create(string name, CertificateKind kind)
    {
        FederationNames.Validate(name, kind == CertificateKind.Admin ? "admin name" : "node name");
        var builder = new X500DistinguishedNameBuilder();
        builder.AddOrganizationalUnitName(FederationNames.KindName(kind));
        builder.AddCommonName(name);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(builder.Build(), key, HashAlgorithmName.SHA256);
        return (request.CreateSigningRequestPem(), key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>
    /// Signs the request in <paramref name="file"/> as <paramref name="kind"/>: its signature must verify (the
    /// requester holds the key), it must name a valid holder and must not ask for another kind. Only the request's
    /// name and public key are used.
    /// </summary>
    public static X509Certificate2 Sign(FederationAuthority authority, string file, CertificateKind kind, string? role, TimeSpan validity)
    {
        if (kind is not (CertificateKind.Node or CertificateKind.Admin)) throw new ArgumentException("--kind must be node or admin");
        if (!File.Exists(file)) throw new ArgumentException($"signing request {file} not found");
        CertificateRequest request;
        try
        {
            request = CertificateRequest.LoadSigningRequestPem(File.ReadAllText(file), HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"{file}: not a valid signing request ({e.Message.TrimEnd('.')})");
        }
        string name = FederationNames.NameOf(request.SubjectName) ?? throw new ArgumentException($"{file}: the request names no holder (no CN)");
        try
        {
            FederationNames.Validate(name, kind == CertificateKind.Admin ? "admin name" : "node name");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{file}: {e.Message}");
        }
        var asked = FederationNames.KindOf(request.SubjectName);
        if (asked is not null && asked != kind)
            throw new ArgumentException($"{file}: the request asks for kind {FederationNames.KindName(asked.Value)}, not --kind {FederationNames.KindName(kind)}");
        return authority.Issue(kind, name, request.PublicKey, role, [], validity);
    }
}
