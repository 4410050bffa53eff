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
    /// the TLS files; returns (cert, key) paths and the names a certificate was issued again for (empty when none). A folder
    /// holding some but not <c>ca.crt</c>, <c>server.crt</c> and <c>server.key</c> all (a federation's server kit copied in part)
    /// is refused, naming what is missing: a new CA written over it would destroy a key the operator put there and leave every
    /// site's certificate untrusted. A <paramref name="extraNames"/> entry the server certificate does not name gets a new server
    /// certificate from the folder's own CA (its names and the new ones; nodes keep trusting the same <c>ca.crt</c>); without
    /// the CA's key (a kit from <c>cohort certs server</c>) the start is refused, naming the command that adds it.
    /// </summary>
    public static (string Cert, string Key, IReadOnlyList<string> AddedNames) EnsureServerCertificate(string dir, IEnumerable<string> extraNames)
    {
        Directory.CreateDirectory(dir);
        string caCert = Path.Combine(dir, CaFile), caKey = Path.Combine(dir, "ca.key");
        string cert = Path.Combine(dir, "server.crt"), key = Path.Combine(dir, "server.key");
        string[] needed = [caCert, cert, key];
        if (needed.All(File.Exists)) return (cert, key, NameAnyMissing(dir, extraNames));
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
        WriteSecret(caKey, caRsa.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(caCert, ca.ExportCertificatePem());
        IssueServerCertificate(ca, caRsa, ["localhost", IPAddress.Loopback.ToString(), IPAddress.IPv6Loopback.ToString(), Environment.MachineName, .. extraNames], cert, key);
        return (cert, key, []);
    }

    // The names asked for that the server certificate lacks, after issuing it again with them when this server made its CA.
    private static IReadOnlyList<string> NameAnyMissing(string dir, IEnumerable<string> extraNames)
    {
        string caCert = Path.Combine(dir, CaFile), caKey = Path.Combine(dir, "ca.key");
        string cert = Path.Combine(dir, "server.crt"), key = Path.Combine(dir, "server.key");
        using var current = X509Certificate2.CreateFromPem(File.ReadAllText(cert));
        var held = NamesOf(current);
        string[] missing = [.. extraNames.Where(n => !held.Contains(Canonical(n))).Distinct(StringComparer.OrdinalIgnoreCase)];
        if (missing.Length == 0) return [];
        if (!File.Exists(caKey))
        {
            throw new ArgumentException(
                $"--tls-name {string.Join(", ", missing)}: {cert} does not name {(missing.Length == 1 ? "it" : "them")}, and it was not made by this " +
                $"server (no ca.key beside it): issue the server certificate with --host {string.Join(" --host ", missing)} too (cohort certs server)");
        }
        using var ca = X509Certificate2.CreateFromPemFile(caCert, caKey);
        using var caRsa = ca.GetRSAPrivateKey() ?? throw new ArgumentException($"{caKey} is not the RSA key this server makes for its CA");
        IssueServerCertificate(ca, caRsa, [.. held, .. missing], cert, key);
        return missing;
    }

    // DNS names lower-cased, addresses in their canonical text: how a certificate's names are compared with those asked for.
    private static HashSet<string> NamesOf(X509Certificate2 certificate)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault() is { } san)
        {
            foreach (var dns in san.EnumerateDnsNames()) names.Add(dns);
            foreach (var ip in san.EnumerateIPAddresses()) names.Add(ip.ToString());
        }
        return names;
    }

    private static string Canonical(string name) => IPAddress.TryParse(name, out var ip) ? ip.ToString() : name;

    // A server certificate for names, signed by the folder's RSA CA, written beside and renamed into place.
    private static void IssueServerCertificate(X509Certificate2 ca, RSA caRsa, IEnumerable<string> names, string certFile, string keyFile)
    {
        // ECDSA P-256, not RSA: the server signs every audit ledger entry with its TLS key (several per round), and a
        // P-256 signature costs a few hundredths of a millisecond where an RSA-2048 one costs about one.
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Cohort server", serverKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names.Select(Canonical).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(name, out var ip)) san.AddIpAddress(ip);
            else san.AddDnsName(name);
        }
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var now = DateTimeOffset.UtcNow;
        // The CA's key is RSA and the server's is not, so the CA signs through a generator rather than its certificate.
        using var server = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForRSA(caRsa, RSASignaturePadding.Pkcs1),
            now.AddMinutes(-5), now.AddYears(2), RandomNumberGenerator.GetBytes(16));
        // Key first: a crash between the two renames leaves a key without its certificate, which the next start reports.
        WriteSecret(keyFile + ".new", serverKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certFile + ".new", server.ExportCertificatePem());
        File.Move(keyFile + ".new", keyFile, overwrite: true);
        File.Move(certFile + ".new", certFile, overwrite: true);
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
