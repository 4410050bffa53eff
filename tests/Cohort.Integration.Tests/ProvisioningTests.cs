using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Security.Provisioning;
using Cohort.Transport.Channels;
using Grpc.Core;

namespace Cohort.Integration.Tests;

/// <summary>
/// Provisioning through the real <c>cohort</c> program: a federation CA, the server's, nodes' and admins'
/// certificates, signing requests, and revocation a running server picks up without a restart.
/// </summary>
public sealed class ProvisioningTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cohort-certs-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _adminToken = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    private string Ca => Path.Combine(_root, "ca");

    private string CaCert => Path.Combine(Ca, "ca.crt");

    [Fact]
    public async Task Certs_init_makes_an_ecdsa_p256_ca_with_an_owner_only_key_and_refuses_to_overwrite_it()
    {
        await Cohort("certs", "init", "--dir", Ca, "--name", "acme");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, ModeOf(Path.Combine(Ca, "ca.key")));
        using var ca = X509Certificate2.CreateFromPemFile(CaCert, Path.Combine(Ca, "ca.key"));
        using var key = ca.GetECDsaPublicKey()!;
        Assert.Equal("1.2.840.10045.3.1.7", key.ExportParameters(false).Curve.Oid.Value);
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.Equal(CertificateKind.Ca, FederationNames.KindOf(ca));
        Assert.Equal("acme", FederationNames.FederationOf(ca));
        Assert.Empty(RevocationList.Read(File.ReadAllBytes(Path.Combine(Ca, "crl.pem")), ca, "crl.pem").Serials);

        var (code, output) = await CliProcess.RunAsync(["certs", "init", "--dir", Ca]);
        Assert.Equal(1, code);
        Assert.Contains("already holds a CA", output);
    }

    [Fact]
    public async Task A_provisioned_server_demands_node_certificates_by_default_and_admits_nodes_with_issued_or_signed_ones()
    {
        await Cohort("certs", "init", "--dir", Ca, "--name", "acme");
        string srv = Path.Combine(_root, "srv"), a = Path.Combine(_root, "site-a"), c = Path.Combine(_root, "site-c");
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "localhost", "--host", "127.0.0.1", "--out", srv);
        await Cohort("certs", "node", "site-a", "--ca-dir", Ca, "--out", a);
        // site-c makes its own key; only the request travels to the federation and only the certificate comes back.
        await Cohort("certs", "request", "site-c", "--out", c);
        await Cohort("certs", "sign", Path.Combine(c, "site-c.csr"), "--ca-dir", Ca, "--kind", "node", "--out", Path.Combine(c, "site-c.crt"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, ModeOf(Path.Combine(c, "site-c.key")));
        Assert.False(File.Exists(Path.Combine(Ca, "issued", "site-c.key")));
        using (var signed = X509Certificate2.CreateFromPemFile(Path.Combine(c, "site-c.crt"), Path.Combine(c, "site-c.key")))
        {
            Assert.Equal(CertificateKind.Node, FederationNames.KindOf(signed));
        }
        using (var serverCert = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(srv, "server.crt"))))
        {
            var san = serverCert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
            Assert.Equal(["localhost"], san.EnumerateDnsNames());
            Assert.Equal(["127.0.0.1"], san.EnumerateIPAddresses().Select(ip => ip.ToString()));
        }

        await using var server = await ServerProcess.StartAsync(_root, _adminToken, "--tls-cert", Path.Combine(srv, "server.crt"), "--tls-key", Path.Combine(srv, "server.key"), "--client-ca", CaCert);
        await server.Process.WaitForOutputAsync("client certificate (mutual TLS)");
        using var control = new ControlClient(new ConnectionOptions(server.Address, _adminToken, CaCert));
        await using var siteA = StartNode(server, "site-a", await control.CreateNodeTokenAsync("site-a", default), "--cert", Path.Combine(a, "site-a.crt"), "--key", Path.Combine(a, "site-a.key"));
        await using var siteC = StartNode(server, "site-c", await control.CreateNodeTokenAsync("site-c", default), "--cert", Path.Combine(c, "site-c.crt"), "--key", Path.Combine(c, "site-c.key"));
        await using var tokenOnly = StartNode(server, "site-b", await control.CreateNodeTokenAsync("site-b", default));

        await WaitForOnlineAsync(control, ["site-a", "site-c"], siteA, siteC);
        Assert.Equal(1, await tokenOnly.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("must present its client certificate", tokenOnly.Output);

        var run = await control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 2, minFit: 2), "provisioned", default);
        Assert.Equal("finished", (await WaitForRunAsync(control, run.Id)).Run.Status);
    }

    [Fact]
    public async Task Sign_refuses_a_request_with_a_bad_signature_name_or_kind()
    {
        await Cohort("certs", "init", "--dir", Ca);
        string site = Path.Combine(_root, "site");
        await Cohort("certs", "request", "alice", "--kind", "admin", "--out", site);
        string adminRequest = Path.Combine(site, "alice.csr");

        await Refused("the request asks for kind admin, not --kind node", "certs", "sign", adminRequest, "--ca-dir", Ca, "--kind", "node", "--out", Path.Combine(site, "x.crt"));
        await Refused("needs --role", "certs", "sign", adminRequest, "--ca-dir", Ca, "--kind", "admin", "--out", Path.Combine(site, "x.crt"));
        await Refused("role 'root' must be one of viewer, operator, admin", "certs", "sign", adminRequest, "--ca-dir", Ca, "--kind", "admin", "--role", "root", "--out", Path.Combine(site, "x.crt"));
        await Refused("--kind 'server' must be one of node, admin", "certs", "sign", adminRequest, "--ca-dir", Ca, "--kind", "server", "--out", Path.Combine(site, "x.crt"));

        string badName = Path.Combine(site, "bad-name.csr");
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(badName, new CertificateRequest("CN=../site a", key, HashAlgorithmName.SHA256).CreateSigningRequestPem());
        }
        await Refused("node name '../site a' must be 1-64 letters", "certs", "sign", badName, "--ca-dir", Ca, "--kind", "node", "--out", Path.Combine(site, "x.crt"));

        // A request whose signature does not verify did not come from the key holder.
        string tampered = Path.Combine(site, "tampered.csr");
        string pem = File.ReadAllText(adminRequest);
        var der = Convert.FromBase64String(string.Concat(pem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal))));
        der[^10] ^= 0x01;
        File.WriteAllText(tampered, PemEncoding.WriteString("CERTIFICATE REQUEST", der));
        await Refused("not a valid signing request", "certs", "sign", tampered, "--ca-dir", Ca, "--kind", "admin", "--role", "viewer", "--out", Path.Combine(site, "x.crt"));

        Assert.False(File.Exists(Path.Combine(site, "x.crt")));
        Assert.Empty(Directory.GetFiles(Path.Combine(Ca, "issued")));
        await Cohort("certs", "sign", adminRequest, "--ca-dir", Ca, "--kind", "admin", "--role", "operator", "--out", Path.Combine(site, "alice.crt"));
        using var issued = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(site, "alice.crt")));
        Assert.Equal("operator", FederationNames.RoleOf(issued));
    }

    [Fact]
    public async Task A_revoked_node_certificate_is_refused_while_the_server_keeps_running_and_a_fresh_one_for_the_same_name_works()
    {
        await Cohort("certs", "init", "--dir", Ca);
        string srv = Path.Combine(_root, "srv"), first = Path.Combine(_root, "first"), second = Path.Combine(_root, "second");
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "localhost", "--out", srv);
        await Cohort("certs", "node", "site-a", "--ca-dir", Ca, "--out", first);
        await using var server = await ServerProcess.StartAsync(_root, _adminToken, "--tls-cert", Path.Combine(srv, "server.crt"), "--tls-key", Path.Combine(srv, "server.key"), "--client-ca", CaCert);
        using var control = new ControlClient(new ConnectionOptions(server.Address, _adminToken, CaCert));
        string token = await control.CreateNodeTokenAsync("site-a", default);

        await using (var revokedNode = StartNode(server, "site-a", token, "--cert", Path.Combine(first, "site-a.crt"), "--key", Path.Combine(first, "site-a.key")))
        {
            await WaitForOnlineAsync(control, ["site-a"], revokedNode);
            var (_, revokeOutput) = await Cohort("certs", "revoke", "site-a", "--ca-dir", Ca);
            Assert.Contains("revoked node certificate", revokeOutput);
            // The node is cut off on its open connection, at its next call, with the reason.
            Assert.Equal(1, await revokedNode.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("has been revoked", revokedNode.Output);
        }
        Assert.True(server.Process.IsRunning);

        await Cohort("certs", "node", "site-a", "--ca-dir", Ca, "--out", second);
        await using var freshNode = StartNode(server, "site-a", token, "--cert", Path.Combine(second, "site-a.crt"), "--key", Path.Combine(second, "site-a.key"));
        await WaitForOnlineAsync(control, ["site-a"], freshNode);

        // The revoked certificate stays refused at a fresh start too.
        await using var again = StartNode(server, "site-a", token, "--cert", Path.Combine(first, "site-a.crt"), "--key", Path.Combine(first, "site-a.key"));
        Assert.Equal(1, await again.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("has been revoked", again.Output);
    }

    [Fact]
    public async Task An_admin_certificate_authenticates_with_its_role_and_a_revoked_one_is_refused()
    {
        await Cohort("certs", "init", "--dir", Ca);
        string srv = Path.Combine(_root, "srv"), alice = Path.Combine(_root, "alice"), bob = Path.Combine(_root, "bob");
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "localhost", "--out", srv);
        await Cohort("certs", "admin", "alice", "--role", "admin", "--ca-dir", Ca, "--out", alice);
        await Cohort("certs", "admin", "bob", "--role", "operator", "--ca-dir", Ca, "--out", bob);
        await using var server = await ServerProcess.StartAsync(_root, _adminToken, "--tls-cert", Path.Combine(srv, "server.crt"), "--tls-key", Path.Combine(srv, "server.key"), "--client-ca", CaCert);
        string[] connect = ["--server", server.Address, "--ca", CaCert, "--data-dir", Path.Combine(_root, "no-such-dir")];

        var (code, output) = await CliProcess.RunAsync(["token", "create", "site-x", .. connect, "--cert", Path.Combine(alice, "alice.crt"), "--key", Path.Combine(alice, "alice.key")]);
        Assert.True(code == 0, output);
        // Bob's certificate carries role operator: he may read nodes but not enrol one.
        string[] asBob = ["--cert", Path.Combine(bob, "bob.crt"), "--key", Path.Combine(bob, "bob.key")];
        (code, output) = await CliProcess.RunAsync(["nodes", .. connect, .. asBob]);
        Assert.True(code == 0, output);
        await Refused("role operator lacks permission manage_nodes ('bob')", ["token", "create", "site-z", .. connect, .. asBob]);
        await Refused("no admin token", ["nodes", .. connect]);

        await Cohort("certs", "revoke", "alice", "--ca-dir", Ca);
        await Refused("has been revoked", ["nodes", .. connect, "--cert", Path.Combine(alice, "alice.crt"), "--key", Path.Combine(alice, "alice.key")]);
        Assert.True(server.Process.IsRunning);
    }

    [Fact]
    public async Task An_insecure_server_is_refused_on_a_non_loopback_address_unless_explicitly_allowed()
    {
        await Refused("--insecure serves plaintext, which is for loopback only; --host 0.0.0.0 is not a loopback address",
            "server", "--insecure", "--host", "0.0.0.0", "--port", "0", "--dashboard-port", "-1", "--data-dir", Path.Combine(_root, "insecure"), "--admin-token", _adminToken);
        await using var allowed = await ServerProcess.StartAsync(_root, _adminToken, "--insecure", "--host", "0.0.0.0", "--allow-insecure-network");
        Assert.StartsWith("http://", allowed.Address);

        // Nodes and operators refuse plaintext to anything but loopback too (before any byte is sent).
        await Refused("is plaintext http to a host that is not loopback", "node", "--server", "http://192.0.2.1:7300", "--insecure", "--name", "site-a", "--app", "empty", "--token", _adminToken);
        await Refused("is plaintext http to a host that is not loopback", "nodes", "--server", "http://192.0.2.1:7300", "--insecure", "--admin-token", _adminToken);
    }

    [Fact]
    public async Task A_data_folder_provisioned_by_certs_server_demands_node_certificates_and_reads_the_revocation_list_copied_beside_its_ca()
    {
        await Cohort("certs", "init", "--dir", Ca);
        string data = Path.Combine(_root, "data"), a = Path.Combine(_root, "site-a");
        // The kit is made on the CA's machine and then moved to the server's data folder.
        string kit = Path.Combine(_root, "kit");
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "localhost", "--out", kit);
        Directory.CreateDirectory(data);
        Directory.Move(kit, Path.Combine(data, "tls"));
        await Cohort("certs", "node", "site-a", "--ca-dir", Ca, "--out", a);
        await using var server = await ServerProcess.StartAsync(_root, _adminToken, "--data-dir", data);
        await server.Process.WaitForOutputAsync("client certificate (mutual TLS)");
        using var control = new ControlClient(new ConnectionOptions(server.Address, _adminToken, CaCert));
        string token = await control.CreateNodeTokenAsync("site-a", default);

        await using (var tokenOnly = StartNode(server, "site-a", token))
        {
            Assert.Equal(1, await tokenOnly.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("must present its client certificate", tokenOnly.Output);
        }
        await using var node = StartNode(server, "site-a", token, "--cert", Path.Combine(a, "site-a.crt"), "--key", Path.Combine(a, "site-a.key"));
        await WaitForOnlineAsync(control, ["site-a"], node);

        // The CA folder lives elsewhere: the operator revokes there and copies the list beside the server's CA.
        var (_, revoked) = await Cohort("certs", "revoke", "site-a", "--ca-dir", Ca);
        Assert.Contains($"server kit {kit}: not here; copy {Path.Combine(Ca, "crl.pem")} to crl.pem beside that kit's ca.crt", revoked);
        Assert.True(node.IsRunning);
        File.Copy(Path.Combine(Ca, "crl.pem"), Path.Combine(data, "tls", "crl.pem"), overwrite: true);
        Assert.Equal(1, await node.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("has been revoked", node.Output);
        Assert.True(server.Process.IsRunning);
    }

    [Fact]
    public async Task A_revocation_list_unusable_for_a_while_keeps_nodes_out_but_running_and_they_come_back_once_it_is_fixed()
    {
        await Cohort("certs", "init", "--dir", Ca, "--name", "acme");
        string data = Path.Combine(_root, "srv-crl"), a = Path.Combine(_root, "a-kit");
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "localhost", "--out", Path.Combine(data, "tls"));
        await Cohort("certs", "node", "site-a", "--ca-dir", Ca, "--out", a);
        await using var server = await ServerProcess.StartAsync(_root, _adminToken, "--data-dir", data);
        using var control = new ControlClient(new ConnectionOptions(server.Address, _adminToken, CaCert));
        await using var node = StartNode(server, "site-a", await control.CreateNodeTokenAsync("site-a", default), "--cert", Path.Combine(a, "site-a.crt"), "--key", Path.Combine(a, "site-a.key"));
        await WaitForOnlineAsync(control, ["site-a"], node);

        // A list being replaced by a plain copy is truncated for a moment, or the operator removes it: the server refuses
        // every certificate meanwhile (it fails closed), but that is the server's problem, so the node waits and retries.
        string list = Path.Combine(data, "tls", "crl.pem");
        byte[] good = await File.ReadAllBytesAsync(list);
        File.Delete(list);
        await node.WaitForOutputAsync("revocation list is unusable", TimeSpan.FromSeconds(60));
        await File.WriteAllTextAsync(list, "junk");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.True(node.IsRunning, node.Output);
        Assert.DoesNotContain("server refused node", node.Output);

        await File.WriteAllBytesAsync(list, good);
        await WaitForOnlineAsync(control, ["site-a"], node);
        Assert.True(node.IsRunning, node.Output);
    }

    [Fact]
    public async Task The_documented_flow_refuses_a_node_revoked_before_the_server_starts_and_one_revoked_while_it_runs()
    {
        // docs/security.md, Provisioning: the server kit goes into the data folder (DATA_DIR/tls) or beside --client-ca.
        await Cohort("certs", "init", "--dir", Ca, "--name", "acme");
        string data = Path.Combine(_root, "srv3"), kit = Path.Combine(_root, "server-kit");
        string hungarian = Path.Combine(_root, "hungarian-kit"), cleveland = Path.Combine(_root, "cleveland-kit");
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "localhost", "--out", Path.Combine(data, "tls"));
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "localhost", "--out", kit);
        await Cohort("certs", "node", "hungarian", "--ca-dir", Ca, "--out", hungarian);
        await Cohort("certs", "node", "cleveland", "--ca-dir", Ca, "--out", cleveland);
        var (_, revoked) = await Cohort("certs", "revoke", "hungarian", "--ca-dir", Ca);
        Assert.Contains($"server kit {Path.Combine(data, "tls")}: updated {Path.Combine(data, "tls", "crl.pem")}", revoked);
        Assert.Contains($"server kit {kit}: updated {Path.Combine(kit, "crl.pem")}", revoked);

        await using (var server = await ServerProcess.StartAsync(_root, _adminToken, "--data-dir", data))
        {
            Assert.DoesNotContain("no certificate revocation list", server.Process.Output);
            using var control = new ControlClient(new ConnectionOptions(server.Address, _adminToken, CaCert));
            await using (var refused = StartNode(server, "hungarian", await control.CreateNodeTokenAsync("hungarian", default), "--cert", Path.Combine(hungarian, "hungarian.crt"), "--key", Path.Combine(hungarian, "hungarian.key")))
            {
                Assert.Equal(1, await refused.WaitForExitAsync(TimeSpan.FromSeconds(60)));
                Assert.Contains("has been revoked", refused.Output);
            }

            // Revoking while the server runs updates the kit's list in place; the server re-reads it without a restart.
            await using var node = StartNode(server, "cleveland", await control.CreateNodeTokenAsync("cleveland", default), "--cert", Path.Combine(cleveland, "cleveland.crt"), "--key", Path.Combine(cleveland, "cleveland.key"));
            await WaitForOnlineAsync(control, ["cleveland"], node);
            await Cohort("certs", "revoke", "cleveland", "--ca-dir", Ca);
            Assert.Equal(1, await node.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("has been revoked", node.Output);
            Assert.True(server.Process.IsRunning);
        }

        await using var kitServer = await ServerProcess.StartAsync(_root, _adminToken,
            "--tls-cert", Path.Combine(kit, "server.crt"), "--tls-key", Path.Combine(kit, "server.key"), "--client-ca", Path.Combine(kit, "ca.crt"));
        using var kitControl = new ControlClient(new ConnectionOptions(kitServer.Address, _adminToken, CaCert));
        await using var again = StartNode(kitServer, "hungarian", await kitControl.CreateNodeTokenAsync("hungarian", default), "--cert", Path.Combine(hungarian, "hungarian.crt"), "--key", Path.Combine(hungarian, "hungarian.key"));
        Assert.Equal(1, await again.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("has been revoked", again.Output);
    }

    [Fact]
    public async Task A_server_demanding_federation_certificates_without_a_revocation_list_warns_at_start()
    {
        await Cohort("certs", "init", "--dir", Ca);
        string kit = Path.Combine(_root, "server-kit");
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "localhost", "--out", kit);
        File.Delete(Path.Combine(kit, "crl.pem"));

        await using var server = await ServerProcess.StartAsync(_root, _adminToken,
            "--tls-cert", Path.Combine(kit, "server.crt"), "--tls-key", Path.Combine(kit, "server.key"), "--client-ca", Path.Combine(kit, "ca.crt"));
        Assert.Contains($"no certificate revocation list at {Path.Combine(kit, "crl.pem")}: revoked certificates are accepted until one is placed there (cohort certs revoke writes it in the CA folder)", server.Process.Output);
    }

    [Fact]
    public async Task Operator_commands_say_in_one_line_when_they_do_not_trust_the_server_or_it_does_not_speak_tls()
    {
        await Cohort("certs", "init", "--dir", Ca);
        await using var tls = await ServerProcess.StartAsync(_root, _adminToken);
        await using var plain = await ServerProcess.StartAsync(_root, _adminToken, "--insecure");
        string plainAsTls = "https://localhost:" + new Uri(plain.Address).Port;

        var (code, output) = await CliProcess.RunAsync(["token", "create", "cleveland", "--server", tls.Address, "--ca", CaCert, "--admin-token", _adminToken]);
        Assert.Equal(1, code);
        Assert.Equal($"cohort: the server certificate of {tls.Address} is not trusted by CA {CaCert}; give --ca the federation's CA certificate", output.Trim());

        (code, output) = await CliProcess.RunAsync(["nodes", "--server", plainAsTls, "--ca", CaCert, "--admin-token", _adminToken]);
        Assert.Equal(1, code);
        Assert.Equal($"cohort: the server at {plainAsTls} does not speak TLS; use http:// for an --insecure server", output.Trim());
        Assert.DoesNotContain("Exception", output);
    }

    [Fact]
    public async Task Health_names_the_host_a_server_certificate_lacks_and_certs_server_adds_loopback_names_by_default()
    {
        await Cohort("certs", "init", "--dir", Ca);
        string remote = Path.Combine(_root, "remote-kit"), usual = Path.Combine(_root, "usual-kit");
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "fl.acme.org", "--no-loopback", "--out", remote);
        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "fl.acme.org", "--out", usual);
        using (var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(usual, "server.crt"))))
        {
            var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
            Assert.Equal(["fl.acme.org", "localhost"], san.EnumerateDnsNames());
            Assert.Equal(["127.0.0.1"], san.EnumerateIPAddresses().Select(ip => ip.ToString()));
        }

        foreach (var (kit, healthy) in new[] { (remote, false), (usual, true) })
        {
            await using var server = await ServerProcess.StartAsync(_root, _adminToken,
                "--tls-cert", Path.Combine(kit, "server.crt"), "--tls-key", Path.Combine(kit, "server.key"), "--client-ca", Path.Combine(kit, "ca.crt"));
            string url = $"https://127.0.0.1:{new Uri(server.Address).Port}/healthz";
            var (code, output) = await CliProcess.RunAsync(["health", "--ca", Path.Combine(kit, "ca.crt"), "--url", url]);
            if (healthy)
            {
                Assert.True(code == 0, output);
            }
            else
            {
                Assert.Equal(1, code);
                Assert.Equal($"cohort: the server certificate of {url} does not name the host connected to: the certificate is for fl.acme.org, not 127.0.0.1; connect by a name it holds, or add 127.0.0.1 to it (--tls-name 127.0.0.1 on a server that made its own certificate, --host 127.0.0.1 on cohort certs server)", output.Trim());
            }
        }
    }

    [Fact]
    public void A_revocation_list_that_is_not_the_cas_own_refuses_every_certificate()
    {
        using var ca = FederationAuthority.Init(Ca, "acme", TimeSpan.FromDays(30));
        using var other = FederationAuthority.Init(Path.Combine(_root, "other"), "other", TimeSpan.FromDays(30));
        var (node, _) = ca.IssueWithNewKey(CertificateKind.Node, "site-a", null, [], TimeSpan.FromDays(1));
        var file = new RevocationListFile(ca.RevocationPath, ca.Certificate);
        Assert.Null(file.Refusal(node));

        File.Copy(other.RevocationPath, ca.RevocationPath, overwrite: true);
        // The list's fault, not the holder's: Unavailable, which a node retries.
        Assert.Equal(StatusCode.Unavailable, file.Refusal(node)?.StatusCode);
        Assert.Contains("revocation list is unusable", file.Refusal(node)?.Detail);
        Assert.Contains("signature does not verify", file.Refusal(node)?.Detail);

        File.WriteAllText(ca.RevocationPath, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
        Assert.Contains("malformed", file.Refusal(node)?.Detail);

        // A list that was there and is gone fails closed too: deleting it must not readmit the revoked.
        File.Delete(ca.RevocationPath);
        Assert.Equal(StatusCode.Unavailable, file.Refusal(node)?.StatusCode);
        Assert.Contains($"it was at {ca.RevocationPath} and is gone", file.Refusal(node)?.Detail);

        ca.Revoke("site-a", CertificateKind.Node);
        Assert.Equal(StatusCode.PermissionDenied, file.Refusal(node)?.StatusCode);
        Assert.Contains("has been revoked", file.Refusal(node)?.Detail);
    }

    [Fact]
    public void A_revocation_list_absent_since_start_is_no_list_until_it_appears()
    {
        using var ca = FederationAuthority.Init(Ca, "acme", TimeSpan.FromDays(30));
        var (node, _) = ca.IssueWithNewKey(CertificateKind.Node, "site-a", null, [], TimeSpan.FromDays(1));
        string moved = ca.RevocationPath + ".away";
        File.Move(ca.RevocationPath, moved);
        var file = new RevocationListFile(ca.RevocationPath, ca.Certificate);
        Assert.Null(file.Refusal(node));

        File.Move(moved, ca.RevocationPath);
        ca.Revoke("site-a", CertificateKind.Node);
        Assert.Equal(StatusCode.PermissionDenied, file.Refusal(node)?.StatusCode);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static UnixFileMode ModeOf(string path) =>
        OperatingSystem.IsWindows() ? throw new PlatformNotSupportedException("file modes are checked on Unix") : File.GetUnixFileMode(path);

    [Fact]
    public async Task Certs_server_on_a_ca_folder_without_a_revocation_list_gives_the_kit_an_empty_one()
    {
        await Cohort("certs", "init", "--dir", Ca, "--name", "acme");
        File.Delete(Path.Combine(Ca, "crl.pem")); // a CA folder made before the list existed

        await Cohort("certs", "server", "--ca-dir", Ca, "--host", "localhost", "--out", Path.Combine(_root, "kit"));

        Assert.True(File.Exists(Path.Combine(_root, "kit", "crl.pem")));
        Assert.True(File.Exists(Path.Combine(Ca, "crl.pem")));
    }

    private static async Task<(int Code, string Output)> Cohort(params string[] args)
    {
        var (code, output) = await CliProcess.RunAsync(args);
        Assert.True(code == 0, $"cohort {string.Join(' ', args)} exited {code}:\n{output}");
        return (code, output);
    }

    private static async Task Refused(string expected, params string[] args)
    {
        var (code, output) = await CliProcess.RunAsync(args);
        Assert.True(code == 1, $"cohort {string.Join(' ', args)} exited {code}, expected 1:\n{output}");
        Assert.Contains(expected, output);
    }

    private static CliProcess StartNode(ServerProcess server, string name, string token, params string[] extra) =>
        CliProcess.Start(["node", "--server", server.Address, "--name", name, "--app", "empty", "--ca", Path.Combine(server.Root, "ca", "ca.crt"), .. extra],
            new Dictionary<string, string> { ["COHORT_NODE_TOKEN"] = token });

    private static async Task WaitForOnlineAsync(ControlClient control, string[] names, params CliProcess[] processes)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var nodes = await control.ListNodesAsync(default);
            if (names.All(n => nodes.Any(x => x.Name == n && x.TypedStatus().IsConnected()))) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{string.Join(", ", names)} not online: {string.Join(", ", nodes.Select(n => $"{n.Name}={n.Status}"))}\n{string.Join("\n", processes.Select(p => p.Output))}");
            await Task.Delay(100);
        }
    }

    private static async Task<Transport.V1.RunDetail> WaitForRunAsync(ControlClient control, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var detail = await control.GetAsync(id, default);
            if (detail.Run.TypedStatus().IsFinal()) return detail;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"run {id} still {detail.Run.Status}");
            await Task.Delay(100);
        }
    }

    /// <summary>A <c>cohort server</c> process on a free loopback port, its address read from its first line.</summary>
    private sealed class ServerProcess(CliProcess process, string address, string root) : IAsyncDisposable
    {
        public CliProcess Process => process;

        public string Address => address;

        public string Root => root;

        public static async Task<ServerProcess> StartAsync(string root, string adminToken, params string[] extra)
        {
            string[] dataDir = extra.Contains("--data-dir") ? [] : ["--data-dir", Path.Combine(root, "data-" + Guid.NewGuid().ToString("N")[..6])];
            var process = CliProcess.Start(["server", "--port", "0", "--dashboard-port", "-1", "--admin-token", adminToken, .. dataDir, .. extra]);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                string output = process.Output;
                int at = output.IndexOf("listening on ", StringComparison.Ordinal);
                if (at >= 0 && output.IndexOf("nodes need:", at, StringComparison.Ordinal) >= 0)
                {
                    string rest = output[(at + "listening on ".Length)..];
                    return new ServerProcess(process, rest[..rest.IndexOfAny(['\r', '\n'])].Trim(), root);
                }
                if (!process.IsRunning || DateTime.UtcNow > deadline)
                {
                    await process.DisposeAsync();
                    throw new InvalidOperationException($"server did not start:\n{output}");
                }
                await Task.Delay(100);
            }
        }

        public ValueTask DisposeAsync() => process.DisposeAsync();
    }
}
