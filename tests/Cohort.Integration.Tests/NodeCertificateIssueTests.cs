using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cohort.Server.Security;

namespace Cohort.Integration.Tests;

/// <summary>
/// The node certificates <c>cohort token create NAME --cert-dir</c> issues from a server's CA folder: signed by
/// the CA's own key whatever its kind (the RSA key the server makes, or an ECDSA one placed by hand), never
/// outliving the CA, and refused with a clear message once the CA has expired.
/// </summary>
public sealed class NodeCertificateIssueTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cohort-issue-").FullName;

    [Fact]
    public void A_hand_placed_ecdsa_ca_signs_node_certificates_that_chain_to_it()
    {
        var caEnd = DateTimeOffset.UtcNow.AddDays(30);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest("CN=Site CA", caKey, HashAlgorithmName.SHA384);
        using var ca = PlaceCa(request, caEnd, caKey.ExportPkcs8PrivateKeyPem());

        using var node = Issue("cleveland");

        Assert.Equal("CN=cleveland", node.Subject);
        Assert.Equal(ca.SubjectName.Name, node.IssuerName.Name);
        // ecdsa-with-SHA256: the CA's ECDSA key signed it, not a fallback.
        Assert.Equal("1.2.840.10045.4.3.2", node.SignatureAlgorithm.Value);
        Assert.Equal(256, node.GetECDsaPublicKey()!.KeySize);
        Assert.Contains(node.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>(), o => o.Value == "1.3.6.1.5.5.7.3.2");
        // The CA ends in 30 days: the certificate does not outlive it (its usual term is two years).
        Assert.True(node.NotAfter.ToUniversalTime() <= ca.NotAfter.ToUniversalTime(), $"node certificate ends {node.NotAfter:u}, after its CA's {ca.NotAfter:u}");
        Assert.True(node.NotAfter.ToUniversalTime() > DateTime.UtcNow.AddDays(29), $"node certificate ends {node.NotAfter:u}, well before its CA");
        AssertChainsTo(node, ca);
    }

    [Fact]
    public void The_servers_own_rsa_ca_signs_node_certificates_with_positive_serials_that_chain_to_it()
    {
        _ = CertificateAuthority.EnsureServerCertificate(_dir, []);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_dir, CertificateAuthority.CaFile)));

        for (int i = 0; i < 16; i++)
        {
            using var node = Issue("node-" + i);
            Assert.Equal("1.2.840.113549.1.1.11", node.SignatureAlgorithm.Value); // sha256WithRSAEncryption
            Assert.True((node.SerialNumberBytes.Span[0] & 0x80) == 0, $"serial {node.SerialNumber} is negative");
            AssertChainsTo(node, ca);
        }
    }

    [Fact]
    public void An_expired_ca_is_refused_with_its_end_named()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Old CA", caKey, HashAlgorithmName.SHA256);
        PlaceCa(request, DateTimeOffset.UtcNow.AddDays(-1), caKey.ExportPkcs8PrivateKeyPem(), start: DateTimeOffset.UtcNow.AddDays(-400)).Dispose();

        var e = Assert.Throws<InvalidOperationException>(() => CertificateAuthority.IssueNodeCertificate(_dir, "zurich"));
        Assert.Contains("expired", e.Message);
        Assert.Contains(CertificateAuthority.CaFile, e.Message);
    }

    [Fact]
    public void A_folder_without_the_cas_key_is_refused()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Elsewhere CA", caKey, HashAlgorithmName.SHA256);
        PlaceCa(request, DateTimeOffset.UtcNow.AddDays(30), keyPem: null).Dispose();

        var e = Assert.Throws<InvalidOperationException>(() => CertificateAuthority.IssueNodeCertificate(_dir, "va"));
        Assert.Contains("no CA key", e.Message);
    }

    [Fact]
    public async Task A_ca_file_that_is_no_certificate_and_a_key_of_another_certificate_are_refused_naming_the_files()
    {
        string notCertificate = Path.Combine(_dir, "not-a-cert.pem");
        await File.WriteAllTextAsync(notCertificate, "this is not a certificate\n");
        var (exit, output) = await Infrastructure.CliProcess.RunAsync(["nodes", "--server", "https://localhost:1", "--token", new string('a', 40), "--ca", notCertificate], TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, exit);
        Assert.Contains($"certificate file '{notCertificate}' holds no PEM certificate (a '-----BEGIN CERTIFICATE-----' block)", output);
        Assert.DoesNotContain("CryptographicException", output);
        // The runtime's own sentence is not appended.
        Assert.DoesNotContain("PEM with a CERTIFICATE label", output);

        _ = CertificateAuthority.EnsureServerCertificate(_dir, []);
        var (certificate, _) = CertificateAuthority.IssueNodeCertificate(_dir, "a");
        var (_, otherKey) = CertificateAuthority.IssueNodeCertificate(_dir, "b");
        string certFile = Path.Combine(_dir, "a.crt"), keyFile = Path.Combine(_dir, "b.key");
        await File.WriteAllTextAsync(certFile, certificate);
        await File.WriteAllTextAsync(keyFile, otherKey);
        (exit, output) = await Infrastructure.CliProcess.RunAsync(["nodes", "--server", "https://localhost:1", "--token", new string('a', 40),
            "--ca", Path.Combine(_dir, CertificateAuthority.CaFile), "--cert", certFile, "--key", keyFile], TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, exit);
        Assert.Contains($"'{certFile}' and '{keyFile}' are not a PEM certificate and its own private key: the key is not the certificate's", output);
        Assert.DoesNotContain("(Parameter", output);

        // A key file that holds no key says so, naming it.
        (exit, output) = await Infrastructure.CliProcess.RunAsync(["nodes", "--server", "https://localhost:1", "--token", new string('a', 40),
            "--ca", Path.Combine(_dir, CertificateAuthority.CaFile), "--cert", certFile, "--key", notCertificate], TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, exit);
        Assert.Contains($"key file '{notCertificate}' holds no PEM private key", output);
    }

    private X509Certificate2 PlaceCa(CertificateRequest request, DateTimeOffset end, string? keyPem, DateTimeOffset? start = null)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var ca = request.CreateSelfSigned(start ?? DateTimeOffset.UtcNow.AddMinutes(-5), end);
        File.WriteAllText(Path.Combine(_dir, CertificateAuthority.CaFile), ca.ExportCertificatePem());
        if (keyPem is not null) File.WriteAllText(Path.Combine(_dir, "ca.key"), keyPem);
        return ca;
    }

    private X509Certificate2 Issue(string node)
    {
        var (certPem, keyPem) = CertificateAuthority.IssueNodeCertificate(_dir, node);
        return X509Certificate2.CreateFromPem(certPem, keyPem);
    }

    private static void AssertChainsTo(X509Certificate2 node, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        bool ok = chain.Build(node);
        Assert.True(ok, string.Join("; ", chain.ChainStatus.Select(s => $"{s.Status}: {s.StatusInformation}")));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
