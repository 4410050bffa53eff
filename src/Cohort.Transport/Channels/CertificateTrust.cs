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

    /// <summary>Loads a PEM certificate (no key).</summary>
    public static X509Certificate2 LoadCertificate(string pemFile)
    {
        if (!File.Exists(pemFile)) throw new ArgumentException($"certificate file '{pemFile}' not found");
        return X509Certificate2.CreateFromPem(File.ReadAllText(pemFile));
    }
}
