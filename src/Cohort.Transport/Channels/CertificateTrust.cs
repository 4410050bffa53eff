using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Cohort.Transport.Channels;

/// <summary>Checks certificates against one private CA rather than the system store.</summary>
internal static class CertificateTrust
{
    /// <summary>True when <paramref name="certificate"/> chains to exactly <paramref name="ca"/>.</summary>
    public static bool IsIssuedBy(X509Certificate2 ca, X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (!chain.Build(certificate)) return false;
        return chain.ChainElements[^1].Certificate.RawData.AsSpan().SequenceEqual(ca.RawData);
    }

    /// <summary>Loads a PEM certificate (no key); a file that holds none is refused naming it.</summary>
    public static X509Certificate2 LoadCertificate(string pemFile)
    {
        if (!File.Exists(pemFile)) throw new ArgumentException($"certificate file '{pemFile}' not found");
        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(pemFile));
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            throw new ArgumentException($"certificate file '{pemFile}' holds no PEM certificate (a '-----BEGIN CERTIFICATE-----' block)");
        }
    }

    /// <summary>Loads a PEM certificate and its private key; files that are not such a pair are refused naming both.</summary>
    public static X509Certificate2 LoadWithKey(string certificateFile, string keyFile)
    {
        if (!File.Exists(certificateFile)) throw new ArgumentException($"certificate file '{certificateFile}' not found");
        if (!File.Exists(keyFile)) throw new ArgumentException($"key file '{keyFile}' not found");
        // Each file on its own first, so that the message says which one is wrong and how.
        using (LoadCertificate(certificateFile))
        {
        }
        string key = File.ReadAllText(keyFile);
        if (!key.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
            throw new ArgumentException($"key file '{keyFile}' holds no PEM private key (a '-----BEGIN PRIVATE KEY-----' block, or its EC or RSA form)");
        try
        {
            return X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new ArgumentException($"'{certificateFile}' and '{keyFile}' are not a PEM certificate and its own private key: the key is not the certificate's (or cannot be read)");
        }
    }

    /// <summary>
    /// A TLS client's check of the server certificate: against exactly <paramref name="ca"/> when given, else the
    /// system store. A refusal throws <see cref="ServerCertificateRefusedException"/> with the reason, which the
    /// handshake carries out to the caller; a plain false would leave only "rejected by the callback".
    /// </summary>
    public static RemoteCertificateValidationCallback ServerValidation(X509Certificate2? ca) => (sender, presented, _, errors) =>
    {
        string host = (sender as SslStream)?.TargetHostName ?? "";
        if (Refusal(ca, presented, errors, host) is { } refusal) throw refusal;
        return true;
    };

    /// <summary>Null when <paramref name="presented"/> is acceptable for <paramref name="host"/>; else the reason.</summary>
    internal static ServerCertificateRefusedException? Refusal(X509Certificate2? ca, X509Certificate? presented, SslPolicyErrors errors, string host)
    {
        if (presented is null) return new(ServerCertificateProblem.Missing, "the server presented no certificate");
        using var certificate = new X509Certificate2(presented);
        var now = DateTime.Now;
        if (certificate.NotAfter < now)
            return new(ServerCertificateProblem.Expired, $"the server certificate expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
        if (certificate.NotBefore > now)
            return new(ServerCertificateProblem.Expired, $"the server certificate is valid only from {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
        // A private CA is not in the system store, so chain errors are expected with one; name mismatches are not.
        bool trusted = ca is null ? (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None : IsIssuedBy(ca, certificate);
        if (!trusted)
            return new(ServerCertificateProblem.Untrusted, $"the server certificate (issued by {certificate.Issuer}) does not chain to the trusted CA ({errors})");
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            return new(ServerCertificateProblem.NameMismatch, $"the certificate is for {string.Join(", ", NamesOf(certificate))}, not {host}", host);
        return null;
    }

    /// <summary>The host names and addresses a server certificate holds: its subject alternative names, else its common name.</summary>
    public static IReadOnlyList<string> NamesOf(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var san in certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>())
        {
            names.AddRange(san.EnumerateDnsNames());
            names.AddRange(san.EnumerateIPAddresses().Select(a => a.ToString()));
        }
        if (names.Count == 0) names.Add(certificate.GetNameInfo(X509NameType.SimpleName, false));
        return names;
    }
}

/// <summary>What was wrong with a server certificate the client refused.</summary>
internal enum ServerCertificateProblem
{
    /// <summary>Not issued by the CA the client trusts.</summary>
    Untrusted,

    /// <summary>Issued by it, but for other host names.</summary>
    NameMismatch,

    /// <summary>Outside its validity period.</summary>
    Expired,

    /// <summary>No certificate at all.</summary>
    Missing,
}

/// <summary>The client refused the server's certificate during the TLS handshake, with the reason.</summary>
internal sealed class ServerCertificateRefusedException(ServerCertificateProblem problem, string message, string host = "") : AuthenticationException(message)
{
    /// <summary>What was wrong.</summary>
    public ServerCertificateProblem Problem => problem;

    /// <summary>The host name the client connected to.</summary>
    public string Host => host;
}
