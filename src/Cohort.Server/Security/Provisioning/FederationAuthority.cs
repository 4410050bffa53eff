using System.Net;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cohort.Server.Security.Provisioning;

/// <summary>
/// A federation's certificate authority in a folder: <c>ca.crt</c>, <c>ca.key</c> (owner-only), the
/// revocation list <c>crl.pem</c> and a copy of every certificate it issued under <c>issued/</c>.
/// Keys are ECDSA P-256. The folder belongs on the federation operator's machine, not on the server.
/// </summary>
internal sealed class FederationAuthority : IDisposable
{
    /// <summary>CA certificate file name.</summary>
    public const string CertificateFile = "ca.crt";

    /// <summary>CA private key file name.</summary>
    public const string KeyFile = "ca.key";

    /// <summary>Revocation list file name (PEM CRL); servers look for it beside their client CA.</summary>
    public const string RevocationFile = "crl.pem";

    /// <summary>Folder of issued certificates, one <c>SERIAL.crt</c> each.</summary>
    public const string IssuedFolder = "issued";

    /// <summary>The server kits <c>cohort certs server</c> wrote, one full folder path a line, so a revocation can update their lists.</summary>
    public const string ServerKitsFile = "server-kits";

    /// <summary>How long a revocation list says it is current; servers do not enforce it (they reload the file instead).</summary>
    private static readonly TimeSpan RevocationListValidity = TimeSpan.FromDays(365);

    private readonly X509Certificate2 _ca;

    private FederationAuthority(string directory, X509Certificate2 ca)
    {
        Directory = directory;
        _ca = ca;
    }

    /// <summary>The CA folder.</summary>
    public string Directory { get; }

    /// <summary>The CA certificate (with its private key).</summary>
    public X509Certificate2 Certificate => _ca;

    /// <summary>The federation name (the CA's organisation), or "cohort" for a CA made outside provisioning.</summary>
    public string Federation => FederationNames.FederationOf(_ca) ?? "cohort";

    /// <summary>Path of the revocation list.</summary>
    public string RevocationPath => Path.Combine(Directory, RevocationFile);

    /// <summary>Creates a new CA in <paramref name="directory"/>; refuses to overwrite an existing one.</summary>
    public static FederationAuthority Init(string directory, string federation, TimeSpan validity)
    {
        FederationNames.Validate(federation, "federation name");
        directory = Path.GetFullPath(directory);
        string certFile = Path.Combine(directory, CertificateFile), keyFile = Path.Combine(directory, KeyFile);
        if (File.Exists(keyFile) || File.Exists(certFile)) throw new ArgumentException($"{directory} already holds a CA ({CertificateFile}/{KeyFile}); choose an empty folder");
        System.IO.Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(FederationNames.Subject(CertificateKind.Ca, federation + " CA", federation), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        var ca = request.CreateSelfSigned(now.AddMinutes(-5), now + validity);
        CertificateAuthority.WriteSecret(keyFile, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certFile, ca.ExportCertificatePem());
        System.IO.Directory.CreateDirectory(Path.Combine(directory, IssuedFolder));
        var authority = new FederationAuthority(directory, ca);
        authority.WriteRevocationList(new CertificateRevocationListBuilder(), BigInteger.Zero);
        return authority;
    }

    /// <summary>Opens the CA in <paramref name="directory"/>; throws <see cref="ArgumentException"/> naming a missing file.</summary>
    public static FederationAuthority Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        string certFile = Path.Combine(directory, CertificateFile), keyFile = Path.Combine(directory, KeyFile);
        if (!File.Exists(certFile)) throw new ArgumentException($"--ca-dir: {certFile} not found (create a CA with 'cohort certs init --dir {directory}')");
        if (!File.Exists(keyFile)) throw new ArgumentException($"--ca-dir: {keyFile} not found; only the folder holding the CA key can issue or revoke");
        try
        {
            return new FederationAuthority(directory, X509Certificate2.CreateFromPemFile(certFile, keyFile));
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"--ca-dir: cannot load {certFile} with {keyFile}: {e.Message}");
        }
    }

    /// <summary>Issues a certificate with a fresh ECDSA P-256 key made here; returns the certificate and its key as PEM.</summary>
    public (X509Certificate2 Certificate, string KeyPem) IssueWithNewKey(CertificateKind kind, string name, string? role, IReadOnlyList<string> hosts, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var certificate = Issue(kind, name, new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).PublicKey, role, hosts, validity);
        return (certificate, key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>
    /// Issues a certificate of <paramref name="kind"/> for <paramref name="name"/> over <paramref name="publicKey"/>;
    /// the subject, uses and lifetime are the authority's, whatever a request asked for. Keeps a copy under <c>issued/</c>.
    /// </summary>
    public X509Certificate2 Issue(CertificateKind kind, string name, PublicKey publicKey, string? role, IReadOnlyList<string> hosts, TimeSpan validity)
    {
        if (kind == CertificateKind.Ca) throw new ArgumentException("the authority issues server, node and admin certificates only");
        if (kind == CertificateKind.Server)
        {
            if (hosts.Count == 0) throw new ArgumentException("a server certificate needs at least one --host");
            foreach (var host in hosts) FederationNames.ValidateHost(host);
        }
        else
        {
            FederationNames.Validate(name, kind == CertificateKind.Node ? "node name" : "admin name");
        }
        if (kind == CertificateKind.Admin)
        {
            FederationNames.ValidateRole(role ?? throw new ArgumentException("an admin certificate needs --role (viewer, operator or admin)"));
        }
        else if (role is not null)
        {
            throw new ArgumentException($"--role applies to admin certificates, not {FederationNames.KindName(kind)} certificates");
        }
        CheckKeyStrength(publicKey);

        var request = new CertificateRequest(FederationNames.Subject(kind, name, Federation, role), publicKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        bool rsa = publicKey.Oid.Value == "1.2.840.113549.1.1.1";
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            rsa ? X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment : X509KeyUsageFlags.DigitalSignature, true));
        string usage = kind == CertificateKind.Server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2";
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (kind == CertificateKind.Server)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var host in hosts)
            {
                if (IPAddress.TryParse(host, out var ip)) san.AddIpAddress(ip);
                else san.AddDnsName(host);
            }
            request.CertificateExtensions.Add(san.Build());
        }
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));

        var now = DateTimeOffset.UtcNow;
        var notAfter = now + validity < _ca.NotAfter ? now + validity : new DateTimeOffset(_ca.NotAfter.ToUniversalTime());
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x40); // positive and minimally encoded
        var certificate = request.Create(_ca, now.AddMinutes(-5), notAfter, serial);
        string issued = Path.Combine(Directory, IssuedFolder);
        System.IO.Directory.CreateDirectory(issued);
        File.WriteAllText(Path.Combine(issued, certificate.SerialNumber + ".crt"), certificate.ExportCertificatePem());
        return certificate;
    }

    /// <summary>Every certificate this authority issued, oldest first.</summary>
    public IReadOnlyList<X509Certificate2> Issued()
    {
        string issued = Path.Combine(Directory, IssuedFolder);
        if (!System.IO.Directory.Exists(issued)) return [];
        return System.IO.Directory.GetFiles(issued, "*.crt")
            .Select(f => X509Certificate2.CreateFromPem(File.ReadAllText(f)))
            .OrderBy(c => c.NotBefore)
            .ToList();
    }

    /// <summary>The current revocation list.</summary>
    public RevocationList RevocationList() =>
        File.Exists(RevocationPath) ? Provisioning.RevocationList.Read(File.ReadAllBytes(RevocationPath), _ca, RevocationPath) : Provisioning.RevocationList.Empty;

    /// <summary>
    /// Revokes every unrevoked certificate issued to <paramref name="name"/> (of <paramref name="kind"/> when given)
    /// and rewrites the revocation list; returns the certificates revoked. Throws when there is none.
    /// </summary>
    public IReadOnlyList<X509Certificate2> Revoke(string name, CertificateKind? kind)
    {
        var current = RevocationList();
        var targets = Issued()
            .Where(c => FederationNames.NameOf(c.SubjectName) == name && (kind is null || FederationNames.KindOf(c) == kind) && !current.Contains(c))
            .ToList();
        if (targets.Count == 0)
            throw new ArgumentException($"no unrevoked certificate for '{name}'{(kind is null ? "" : $" of kind {FederationNames.KindName(kind.Value)}")} in {Path.Combine(Directory, IssuedFolder)}");
        CertificateRevocationListBuilder builder;
        BigInteger number = BigInteger.Zero;
        if (File.Exists(RevocationPath)) builder = CertificateRevocationListBuilder.LoadPem(File.ReadAllText(RevocationPath), out number);
        else builder = new CertificateRevocationListBuilder();
        var now = DateTimeOffset.UtcNow;
        foreach (var c in targets) builder.AddEntry(c, now, X509RevocationReason.CessationOfOperation);
        WriteRevocationList(builder, number + 1);
        return targets;
    }

    /// <summary>Remembers a server kit folder this authority wrote, for <see cref="ServerKits"/>.</summary>
    public void RecordServerKit(string directory)
    {
        string full = Path.GetFullPath(directory);
        if (ServerKits().Contains(full)) return;
        File.AppendAllText(Path.Combine(Directory, ServerKitsFile), full + "\n");
    }

    /// <summary>The server kit folders recorded, as written (they may since have moved to the server's machine).</summary>
    public IReadOnlyList<string> ServerKits()
    {
        string file = Path.Combine(Directory, ServerKitsFile);
        return File.Exists(file) ? File.ReadAllLines(file).Where(l => l.Length > 0).Distinct().ToList() : [];
    }

    /// <summary>True when <paramref name="directory"/> holds this authority's <c>ca.crt</c> (a kit it wrote).</summary>
    public bool IsKitOf(string directory)
    {
        string caFile = Path.Combine(directory, CertificateFile);
        if (!File.Exists(caFile)) return false;
        try
        {
            using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caFile));
            return ca.RawData.AsSpan().SequenceEqual(_ca.RawData);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>Copies the current revocation list into <paramref name="directory"/> (beside a kit's <c>ca.crt</c>); returns the file written.</summary>
    public string CopyRevocationListTo(string directory)
    {
        string target = Path.Combine(directory, RevocationFile);
        // A CA folder made before the list existed has none yet: it starts empty (nothing revoked).
        if (!File.Exists(RevocationPath)) WriteRevocationList(new CertificateRevocationListBuilder(), BigInteger.Zero);
        // A server may be reading the kit's list while it changes: write beside it and rename, as for the CA's own.
        string temporary = target + ".tmp";
        File.WriteAllBytes(temporary, File.ReadAllBytes(RevocationPath));
        File.Move(temporary, target, overwrite: true);
        return target;
    }

    /// <inheritdoc />
    public void Dispose() => _ca.Dispose();

    private void WriteRevocationList(CertificateRevocationListBuilder builder, BigInteger number)
    {
        var now = DateTimeOffset.UtcNow;
        byte[] der = builder.Build(_ca, number, now + RevocationListValidity, HashAlgorithmName.SHA256,
            _ca.GetRSAPublicKey() is null ? null : RSASignaturePadding.Pkcs1, now);
        // Servers reload the file while running: write beside it and rename, so a reader never sees half a list.
        string temporary = RevocationPath + ".tmp";
        File.WriteAllText(temporary, PemEncoding.WriteString("X509 CRL", der) + "\n");
        File.Move(temporary, RevocationPath, overwrite: true);
    }

    private static void CheckKeyStrength(PublicKey key)
    {
        switch (key.Oid.Value)
        {
            case "1.2.840.10045.2.1":
                using (var ec = key.GetECDsaPublicKey())
                {
                    int bits = ec?.KeySize ?? 0;
                    if (bits < 256) throw new ArgumentException($"the request's ECDSA key has {bits} bits; at least 256 (P-256) are required");
                }
                break;
            case "1.2.840.113549.1.1.1":
                using (var rsa = key.GetRSAPublicKey())
                {
                    int bits = rsa?.KeySize ?? 0;
                    if (bits < 2048) throw new ArgumentException($"the request's RSA key has {bits} bits; at least 2048 are required");
                }
                break;
            default:
                throw new ArgumentException($"the request's key algorithm {key.Oid.Value} is not supported (use ECDSA P-256 or RSA 2048+)");
        }
    }
}
