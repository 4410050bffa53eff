using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>With mutual TLS a node needs its token and its own certificate.</summary>
public sealed class MutualTlsTests
{
    [Fact]
    public async Task Under_mutual_tls_a_node_with_its_certificate_joins_and_nodes_without_one_or_with_another_name_are_refused()
    {
        await using var server = await TestServer.StartAsync(mutualTls: true);
        string certs = Path.Combine(server.DataDir, "certs");
        string[] control = ["--server", server.Host.Address.ToString(), "--admin-token", server.Host.AdminToken, "--ca", server.Host.CaFile!];
        var (code, output) = await CliProcess.RunAsync(["token", "create", "site-a", "--cert-dir", certs, .. control]);
        Assert.True(code == 0, output);
        string tokenA = CliProcess.TokenIn(output);
        // The issued key is ECDSA P-256, the node's name in the common name.
        using (var issued = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(Path.Combine(certs, "site-a.crt"), Path.Combine(certs, "site-a.key")))
        {
            Assert.Equal("CN=site-a", issued.Subject);
            using var key = System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions.GetECDsaPrivateKey(issued);
            Assert.Equal(256, key?.KeySize);
        }
        string tokenB = await server.Control.CreateNodeTokenAsync("site-b", default);

        await using var good = CliProcess.StartNode(server, "site-a", tokenA, "empty", "--cert", Path.Combine(certs, "site-a.crt"), "--key", Path.Combine(certs, "site-a.key"));
        await using var noCert = CliProcess.StartNode(server, "site-b", tokenB, "empty");
        await using var wrongCert = CliProcess.StartNode(server, "site-b", tokenB, "empty", "--cert", Path.Combine(certs, "site-a.crt"), "--key", Path.Combine(certs, "site-a.key"));

        await server.WaitForNodesAsync(1, processes: [good]);
        Assert.Equal(1, await noCert.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("must present its client certificate", noCert.Output);
        Assert.Equal(1, await wrongCert.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("client certificate is for 'site-a', not node 'site-b'", wrongCert.Output);

        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1), "mtls", default);
        Assert.Equal("finished", (await server.WaitForRunAsync(run.Id)).Run.Status);
        var nodes = await server.Control.ListNodesAsync(default);
        // Connected: "busy" until its next heartbeat says the run's last task is done.
        Assert.Contains(nodes.Single(n => n.Name == "site-a").Status, new[] { "online", "busy" });
        Assert.DoesNotContain(nodes.Single(n => n.Name == "site-b").Status, new[] { "online", "busy" });
    }
}
