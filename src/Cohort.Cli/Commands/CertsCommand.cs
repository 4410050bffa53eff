using System.CommandLine;
using System.Security.Cryptography.X509Certificates;
using Cohort.Server.Security;
using Cohort.Server.Security.Provisioning;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort certs</c>: provisioning a federation's certificates (CA, server, nodes, admins, revocation).</summary>
internal static class CertsCommand
{
    private static readonly string[] LoopbackNames = ["localhost", "127.0.0.1"];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var certs = new Command("certs", "Provision a federation: its CA, the server's, nodes' and admins' certificates, signing requests and revocation");
        certs.Subcommands.Add(Init());
        certs.Subcommands.Add(ServerCertificate());
        certs.Subcommands.Add(Holder(CertificateKind.Node, "Issue a node's client certificate and key (DIR/NAME.crt, DIR/NAME.key, DIR/ca.crt) for cohort node --cert/--key/--ca"));
        certs.Subcommands.Add(Holder(CertificateKind.Admin, "Issue an operator's client certificate with a role (viewer, operator or admin); role admin stands in for the admin token on the Control API"));
        certs.Subcommands.Add(Request());
        certs.Subcommands.Add(Sign());
        certs.Subcommands.Add(Revoke());
        certs.Subcommands.Add(List());
        return certs;
    }

    private static Option<string> CaDir() => new("--ca-dir") { Description = "The federation CA folder (cohort certs init)", Required = true };

    private static Option<int> Days(int fallback) => new("--days") { Description = "Validity in days", DefaultValueFactory = _ => fallback };

    private static Command Init()
    {
        var dir = new Option<string>("--dir") { Description = "Folder for the new CA (ca.crt, ca.key owner-only, crl.pem, issued/)", Required = true };
        var name = new Option<string>("--name") { Description = "Federation name, written into every certificate as the organisation", DefaultValueFactory = _ => "cohort" };
        var days = Days(3650);
        var command = new Command("init", "Create a federation CA (ECDSA P-256) and an empty revocation list") { dir, name, days };
        command.SetAction(pr =>
        {
            using var ca = FederationAuthority.Init(pr.GetValue(dir)!, pr.GetValue(name)!, TimeSpan.FromDays(Positive(pr.GetValue(days))));
            Console.WriteLine($"federation CA '{ca.Federation}' created in {ca.Directory}");
            Console.WriteLine($"  {Path.Combine(ca.Directory, FederationAuthority.CertificateFile)}: give to the server (--client-ca) and every site (--ca)");
            Console.WriteLine($"  {Path.Combine(ca.Directory, FederationAuthority.KeyFile)}: keep here, owner-only; it signs every certificate");
            return 0;
        });
        return command;
    }

    private static Command ServerCertificate()
    {
        var caDir = CaDir();
        var hosts = new Option<string[]>("--host") { Description = "DNS name or IP address nodes use to reach the server (repeatable; each becomes a subject alternative name)", Required = true, AllowMultipleArgumentsPerToken = true };
        var noLoopback = new Option<bool>("--no-loopback") { Description = "Leave out localhost and 127.0.0.1, which are otherwise added so that cohort health and operators on the server's machine can connect" };
        var output = new Option<string>("--out") { Description = "Folder for server.crt, server.key, ca.crt and crl.pem (for cohort server --tls-cert/--tls-key/--client-ca; DATA_DIR/tls also works)", Required = true };
        var days = Days(365);
        var command = new Command("server", "Issue the server's TLS certificate and key, signed by the federation CA, with the CA's revocation list") { caDir, hosts, noLoopback, output, days };
        command.SetAction(pr =>
        {
            using var ca = FederationAuthority.Open(pr.GetValue(caDir)!);
            string[] given = pr.GetValue(hosts) ?? [];
            if (given.Length == 0) throw new CliException("--host: give at least one DNS name or IP address");
            // Health checks in the server's container, and operators on its machine, connect to 127.0.0.1 or localhost.
            string[] names = (pr.GetValue(noLoopback) ? given : [.. given, .. LoopbackNames]).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
            CheckOutput(ca, pr.GetValue(output)!, "server");
            var (certificate, key) = ca.IssueWithNewKey(CertificateKind.Server, names[0], null, names, TimeSpan.FromDays(Positive(pr.GetValue(days))));
            string dir = pr.GetValue(output)!;
            Write(ca, dir, "server", certificate, key);
            // Without the list beside the kit's CA the server would accept every revoked certificate.
            string crl = ca.CopyRevocationListTo(dir);
            ca.RecordServerKit(dir);
            Console.WriteLine($"server certificate {certificate.SerialNumber} for {string.Join(", ", names)} written to {Path.Combine(dir, "server")}.crt/.key");
            Console.WriteLine($"  revocation list: {crl} (cohort certs revoke updates it while this folder is here; copy it again after a revocation once the kit has moved)");
            Console.WriteLine($"  start with: cohort server --tls-cert {Path.Combine(dir, "server.crt")} --tls-key {Path.Combine(dir, "server.key")} --client-ca {Path.Combine(dir, FederationAuthority.CertificateFile)}");
            return 0;
        });
        return command;
    }

    private static Command Holder(CertificateKind kind, string description)
    {
        string word = FederationNames.KindName(kind);
        var name = new Argument<string>("name") { Description = kind == CertificateKind.Node ? "Node (site) name; the node runs with --name NAME" : "The operator's name" };
        var caDir = CaDir();
        var output = new Option<string>("--out") { Description = "Folder for NAME.crt, NAME.key (owner-only) and ca.crt", Required = true };
        var days = Days(365);
        var role = new Option<string?>("--role") { Description = "What the holder may do: viewer, operator or admin", Required = kind == CertificateKind.Admin };
        var command = new Command(word, description) { name, caDir, output, days };
        if (kind == CertificateKind.Admin) command.Options.Add(role);
        command.SetAction(pr =>
        {
            using var ca = FederationAuthority.Open(pr.GetValue(caDir)!);
            string holder = pr.GetValue(name)!;
            CheckOutput(ca, pr.GetValue(output)!, holder);
            var (certificate, key) = ca.IssueWithNewKey(kind, holder, kind == CertificateKind.Admin ? pr.GetValue(role) : null, [], TimeSpan.FromDays(Positive(pr.GetValue(days))));
            string dir = pr.GetValue(output)!;
            Write(ca, dir, holder, certificate, key);
            Console.WriteLine($"{word} certificate {certificate.SerialNumber} for '{holder}' written to {Path.Combine(dir, holder)}.crt/.key");
            return 0;
        });
        return command;
    }

    private static Command Request()
    {
        var name = new Argument<string>("name") { Description = "This site's node name (or the operator's name with --kind admin)" };
        var output = new Option<string>("--out") { Description = "Folder for NAME.key (owner-only; stays here) and NAME.csr (send it to the federation)", Required = true };
        var kind = new Option<string>("--kind") { Description = "node or admin", DefaultValueFactory = _ => "node" };
        var command = new Command("request", "Make this site's private key and a certificate signing request; the key never leaves the site") { name, output, kind };
        command.SetAction(pr =>
        {
            string holder = pr.GetValue(name)!, dir = pr.GetValue(output)!;
            var (request, key) = SigningRequests.Create(holder, FederationNames.ParseKind(pr.GetValue(kind)!, CertificateKind.Node, CertificateKind.Admin));
            string keyFile = Path.Combine(dir, holder + ".key"), requestFile = Path.Combine(dir, holder + ".csr");
            Directory.CreateDirectory(dir);
            if (File.Exists(keyFile)) throw new CliException($"{keyFile} already exists; move it away or choose another --out");
            CertificateAuthority.WriteSecret(keyFile, key);
            File.WriteAllText(requestFile, request);
            Console.WriteLine($"key {keyFile} (keep it here) and request {requestFile} (send it to the federation: cohort certs sign)");
            return 0;
        });
        return command;
    }

    private static Command Sign()
    {
        var request = new Argument<string>("csr") { Description = "The site's signing request (PEM, from cohort certs request)" };
        var caDir = CaDir();
        var kind = new Option<string>("--kind") { Description = "node or admin", Required = true };
        var role = new Option<string?>("--role") { Description = "For --kind admin: viewer, operator or admin" };
        var output = new Option<string>("--out") { Description = "Certificate file to write (send it back to the site with ca.crt)", Required = true };
        var days = Days(365);
        var command = new Command("sign", "Sign a site's request as a node or admin certificate; refuses a request with a bad signature, name or kind") { request, caDir, kind, role, output, days };
        command.SetAction(pr =>
        {
            using var ca = FederationAuthority.Open(pr.GetValue(caDir)!);
            var k = FederationNames.ParseKind(pr.GetValue(kind)!, CertificateKind.Node, CertificateKind.Admin);
            var certificate = SigningRequests.Sign(ca, pr.GetValue(request)!, k, pr.GetValue(role), TimeSpan.FromDays(Positive(pr.GetValue(days))));
            string file = pr.GetValue(output)!;
            if (Path.GetDirectoryName(Path.GetFullPath(file)) is { } parent) Directory.CreateDirectory(parent);
            File.WriteAllText(file, certificate.ExportCertificatePem());
            Console.WriteLine($"{FederationNames.KindName(k)} certificate {certificate.SerialNumber} for '{FederationNames.NameOf(certificate.SubjectName)}' written to {file}");
            return 0;
        });
        return command;
    }

    private static Command Revoke()
    {
        var name = new Argument<string>("name") { Description = "Node, admin or server host name whose certificates to revoke" };
        var caDir = CaDir();
        var kind = new Option<string?>("--kind") { Description = "Revoke only this kind: server, node or admin" };
        var command = new Command("revoke", "Revoke every certificate issued to NAME, rewrite CA_DIR/crl.pem and the copy in each server kit still in place; servers re-read it without a restart") { name, caDir, kind };
        command.SetAction(pr =>
        {
            using var ca = FederationAuthority.Open(pr.GetValue(caDir)!);
            CertificateKind? k = pr.GetValue(kind) is { } text ? FederationNames.ParseKind(text, CertificateKind.Server, CertificateKind.Node, CertificateKind.Admin) : null;
            foreach (var c in ca.Revoke(pr.GetValue(name)!, k))
                Console.WriteLine($"revoked {FederationNames.KindName(FederationNames.KindOf(c) ?? CertificateKind.Node)} certificate {c.SerialNumber} for '{FederationNames.NameOf(c.SubjectName)}'");
            Console.WriteLine($"revocation list: {ca.RevocationPath} (a server with --client-ca {Path.Combine(ca.Directory, FederationAuthority.CertificateFile)} reads it there)");
            // Each server reads the list beside its own client CA, usually its kit's ca.crt: a kit missed here keeps admitting the revoked.
            foreach (string kit in ca.ServerKits())
            {
                if (ca.IsKitOf(kit))
                    Console.WriteLine($"  server kit {kit}: updated {ca.CopyRevocationListTo(kit)}; a server using it re-reads it without a restart");
                else
                    Console.WriteLine($"  server kit {kit}: not here; copy {ca.RevocationPath} to crl.pem beside that kit's ca.crt on the server (or to its --crl file)");
            }
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var caDir = CaDir();
        var command = new Command("list", "List the certificates the CA issued, with their state") { caDir };
        command.SetAction(pr =>
        {
            using var ca = FederationAuthority.Open(pr.GetValue(caDir)!);
            var revoked = ca.RevocationList();
            foreach (var c in ca.Issued())
            {
                string state = revoked.Contains(c) ? "revoked" : c.NotAfter < DateTime.Now ? "expired" : "valid";
                string kind = FederationNames.KindOf(c) is { } k ? FederationNames.KindName(k) : "?";
                Console.WriteLine($"{c.SerialNumber}  {kind,-6} {FederationNames.NameOf(c.SubjectName),-24} {FederationNames.RoleOf(c) ?? "-",-9} {c.NotAfter.ToUniversalTime():yyyy-MM-dd}  {state}");
            }
            return 0;
        });
        return command;
    }

    private static int Positive(int days) => days > 0 ? days : throw new CliException($"--days {days}: must be at least 1");

    /// <summary>Refuses, before anything is issued, an output folder that already holds this key or another CA.</summary>
    private static void CheckOutput(FederationAuthority ca, string dir, string holder)
    {
        string keyFile = Path.Combine(dir, holder + ".key"), caFile = Path.Combine(dir, FederationAuthority.CertificateFile);
        if (File.Exists(keyFile)) throw new CliException($"{keyFile} already exists; move it away or choose another --out");
        if (File.Exists(caFile) && X509Certificate2.CreateFromPem(File.ReadAllText(caFile)).Thumbprint != ca.Certificate.Thumbprint)
            throw new CliException($"{caFile} holds another CA; choose another --out");
    }

    private static void Write(FederationAuthority ca, string dir, string holder, X509Certificate2 certificate, string keyPem)
    {
        Directory.CreateDirectory(dir);
        CertificateAuthority.WriteSecret(Path.Combine(dir, holder + ".key"), keyPem);
        File.WriteAllText(Path.Combine(dir, holder + ".crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, FederationAuthority.CertificateFile), ca.Certificate.ExportCertificatePem());
    }
}
