using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cohort.Audit;

/// <summary>Signs ledger entries' hashes with a certificate's private key (ECDSA or RSA).</summary>
public sealed class AuditSigner : IDisposable
{
    private readonly ECDsa? _ecdsa;
    private readonly RSA? _rsa;

    /// <summary>Uses the private key of <paramref name="certificate"/>; throws when it has none of a supported kind.</summary>
    public AuditSigner(X509Certificate2 certificate)
    {
        Certificate = certificate;
        _ecdsa = certificate.GetECDsaPrivateKey();
        _rsa = _ecdsa is null ? certificate.GetRSAPrivateKey() : null;
        if (_ecdsa is null && _rsa is null)
            throw new ArgumentException($"certificate '{certificate.Subject}' has no ECDSA or RSA private key to sign the audit ledger with");
        KeyId = KeyIdOf(certificate);
    }

    /// <summary>The certificate whose key signs; verifiers need it (its public part).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The signing key's id, recorded in each entry.</summary>
    public string KeyId { get; }

    /// <summary>Signs a SHA-256 hash (hex); returns the signature as base64.</summary>
    public string Sign(string hashHex)
    {
        byte[] hash = Convert.FromHexString(hashHex);
        byte[] sig = _ecdsa is not null
            ? _ecdsa.SignHash(hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            : _rsa!.SignHash(hash, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return Convert.ToBase64String(sig);
    }

    /// <summary>
    /// A key's id: the first 16 bytes (hex) of the SHA-256 of its SubjectPublicKeyInfo, so a renewed certificate for
    /// the same key keeps the id.
    /// </summary>
    public static string KeyIdOf(X509Certificate2 certificate) =>
        Convert.ToHexStringLower(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()).AsSpan(0, 16));

    /// <summary>
    /// Loads the signing key kept in <paramref name="dir"/> (<c>audit-signing.crt</c>/<c>.key</c>), creating an ECDSA
    /// P-256 key and a self-signed certificate for it (key file owner-only) when absent; for a process that has no
    /// TLS key of its own to sign with.
    /// </summary>
    public static AuditSigner LoadOrCreateDedicated(string dir, string subject)
    {
        Directory.CreateDirectory(dir);
        string cert = Path.Combine(dir, "audit-signing.crt"), key = Path.Combine(dir, "audit-signing.key");
        if (!File.Exists(cert) || !File.Exists(key))
        {
            using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={subject}", ecdsa, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.NonRepudiation, true));
            var now = DateTimeOffset.UtcNow;
            using var self = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(20));
            WriteOwnerOnly(key, ecdsa.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(cert, self.ExportCertificatePem());
        }
        return new AuditSigner(X509Certificate2.CreateFromPemFile(cert, key));
    }

    private static void WriteOwnerOnly(string path, string text)
    {
        if (OperatingSystem.IsWindows())
        {
            File.WriteAllText(path, text);
            return;
        }
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _ecdsa?.Dispose();
        _rsa?.Dispose();
    }
}
