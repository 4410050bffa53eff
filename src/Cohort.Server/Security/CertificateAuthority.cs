using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cohort.Server.Security;

/// <summary>
/// Generates a private CA and a server certificate signed by it, as PEM files in a folder, so a server
/// has TLS from its first start. Nodes trust the CA file (<c>--ca</c>).
/// </summary>
internal static class CertificateAuthority
{
    /// <summary>CA certificate file name.</summary>
    public const string CaFile = "ca.crt";

    /// <summary>
    /// Creates <c>ca.crt</c>, <c>ca.key</c>, <c>server.crt</c>, <c>server.key</c> in <paramref name="dir"/> when it holds none of
    /// the TLS files; returns (cert, key) paths. A folder holding some but not <c>ca.crt</c>, <c>server.crt</c> and
    /// <c>server.key</c> all (a federation's server kit copied in part) is refused, naming what is missing: a new CA written over
    /// it would destroy a key the operator put there and leave every site's certificate untrusted.
    /// </summary>
    public static (string Cert, string Key) EnsureServerCertificate(string dir, IEnumerable<string> extraNames)
    {
        Directory.CreateDirectory(dir);
        string caCert = Path.Combine(dir, CaFile), caKey = Path.Combine(dir, "ca.key");
        string cert = Path.Combine(dir, "server.crt"), key = Path.Combine(dir, "server.key");
        string[] needed = [caCert, cert, key];
        if (needed.All(File.Exists)) return (cert, key);
        string[] present = [.. new[] { caCert, caKey, cert, key, Path.Combine(dir, "crl.pem") }.Where(File.Exists).Select(Path.GetFileName)!];
        if (present.Length > 0)
        {
            string[] missing = [.. needed.Where(f => !File.Exists(f)).Select(Path.GetFileName)!];
            throw new ArgumentException(
                $"{dir} holds {string.Join(", ", present)} but not {string.Join(" or ", missing)}: put the missing file back (a federation's " +
                "server kit from `cohort certs server` holds ca.crt, server.crt and server.key), or empty the folder to have the server " +
                "make a new CA of its own (every node then needs the new ca.crt); nothing was changed");
        }

        using var caRsa = RSA.Create(3072);
        var caRequest = new CertificateRequest("CN=Cohort CA", caRsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));

        // ECDSA P-256, not RSA: the server signs every audit ledger entry with its TLS key (several per round), and a
        // P-256 signature costs a few hundredths of a millisecond where an RSA-2048 one costs about one.
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Cohort server", serverKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        san.AddDnsName(Environment.MachineName);
        foreach (var name in extraNames)
        {
            if (IPAddress.TryParse(name, out var ip)) san.AddIpAddress(ip);
            else san.AddDnsName(name);
        }
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        // The CA's key is RSA and the server's is not, so the CA signs through a generator rather than its certificate.
        using var server = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForRSA(caRsa, RSASignaturePadding.Pkcs1),
            now.AddMinutes(-5), now.AddYears(2), RandomNumberGenerator.GetBytes(16));

        WriteSecret(caKey, caRsa.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(caCert, ca.ExportCertificatePem());
        WriteSecret(key, serverKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(cert, server.ExportCertificatePem());
        return (cert, key);
    }

    /// <summary>
    /// Issues a client certificate for a node (CN = node name, client-authentication use) signed by the
    /// CA in <paramref name="dir"/>; returns the certificate and private key as PEM.
    /// </summary>
    public static (string CertificatePem, string KeyPem) IssueNodeCertificate(string dir, string node)
    {
        string caCert = Path.Combine(dir, CaFile), caKey = Path.Combine(dir, "ca.key");
        if (!File.Exists(caKey))
            throw new InvalidOperationException("this server has no CA key (it was given its own certificate); issue node certificates with your CA");
        using var ca = X509Certificate2.CreateFromPemFile(caCert, caKey);
        // P-256, as the server's own TLS key and the certificates `cohort certs` issues: made in about a millisecond where
        // an RSA-2048 key takes tens to hundreds (a fleet's worth of tokens at once), and a node's ledger signatures are 64 bytes.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={node}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var now = DateTimeOffset.UtcNow;
        // Signed by the CA's own key, whatever its kind (an RSA one in the data folders this server makes).
        using var caRsa = ca.GetRSAPrivateKey();
        using var caEc = caRsa is null ? ca.GetECDsaPrivateKey() : null;
        var signer = caRsa is not null ? X509SignatureGenerator.CreateForRSA(caRsa, RSASignaturePadding.Pkcs1)
            : X509SignatureGenerator.CreateForECDsa(caEc ?? throw new InvalidOperationException("the CA key is neither RSA nor ECDSA"));
        // Never past the CA's own end (which the issuer form of Create checked).
        var caEnd = new DateTimeOffset(ca.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (caEnd <= now) throw new InvalidOperationException($"the CA certificate {caCert} expired on {caEnd:u}; renew the CA before issuing node certificates");
        var notAfter = now.AddYears(2) < caEnd ? now.AddYears(2) : caEnd;
        // A positive serial (RFC 5280): the top bit clear.
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(ca.SubjectName, signer, now.AddMinutes(-5), notAfter, serial);
        return (issued.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Writes a file readable by its owner only.</summary>
    public static void WriteSecret(string path, string text)
    {
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
