using System.CommandLine;
using Cohort.Cli.Control;
using Cohort.Engine.State;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort token create</c> and <c>cohort nodes</c>: enrol sites and see them.</summary>
internal static class TokenCommand
{
    /// <summary>Builds <c>token</c>.</summary>
    public static Command Create()
    {
        var control = new ControlOptions();
        var name = new Argument<string>("name") { Description = "Node (site) name, or the viewer's name with --viewer" };
        var viewer = new Option<bool>("--viewer") { Description = "Issue an operator token for a person or tool (role viewer unless --role) instead of a node token" };
        var role = new Option<string?>("--role") { Description = "With --viewer: viewer (read only, the default) or operator (also submit and stop runs, pull models)" };
        var certDir = new Option<string?>("--cert-dir") { Description = "Also issue a client certificate for mutual TLS: writes NAME.crt and NAME.key into this folder" };
        var replace = new Option<bool>("--replace") { Description = "Replace the token of a node connected now: it is refused from its next call until it is given the new one" };
        var create = new Command("create", "Issue a token for a node, or with --viewer an operator token (viewer or operator role; replaces an earlier token of that name); the server stores only its hash") { name, viewer, role, certDir, replace };
        control.AddTo(create);
        create.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            string node = pr.GetValue(name)!;
            string? dir = pr.GetValue(certDir);
            if (pr.GetValue(viewer))
            {
                if (dir is not null) throw new CliException("--cert-dir issues node certificates; a viewer needs none");
                Console.WriteLine(await client.CreateViewerTokenAsync(node, ct, pr.GetValue(role) ?? ""));
                return 0;
            }
            if (pr.GetValue(role) is not null) throw new CliException("--role applies to operator tokens (--viewer); a node token has no role");
            // A known node's token is replaced: the process still using the old one is refused from its next call. A node
            // connected now would be cut off by a repeated create meant to look the token up, so that takes --replace.
            var known = (await client.ListNodesAsync(ct)).FirstOrDefault(n => n.Name == node);
            if (known is not null && known.Status != "offline" && !pr.GetValue(replace))
                throw new CliException($"node '{node}' is connected now ({known.Status}) with its current token; a new one would cut it off from its next call. " +
                    "The server keeps only a hash, so a lost token cannot be shown again: pass --replace to issue a new one and give it to the node");
            var reply = await client.CreateNodeCredentialsAsync(node, dir is not null, ct);
            if (known is not null) Console.Error.WriteLine($"node '{node}' had a token: it is replaced, and a node still using the old one is refused from its next call (give it this one)");
            if (dir is not null)
            {
                Directory.CreateDirectory(dir);
                await File.WriteAllTextAsync(Path.Combine(dir, node + ".crt"), reply.CertificatePem, ct);
                Server.Security.CertificateAuthority.WriteSecret(Path.Combine(dir, node + ".key"), reply.PrivateKeyPem);
                Console.Error.WriteLine($"certificate and key written to {Path.Combine(dir, node)}.crt/.key");
            }
            Console.WriteLine(reply.Token);
            return 0;
        });
        var token = new Command("token", "Node tokens and operator tokens (viewer or operator role)");
        token.Subcommands.Add(create);
        return token;
    }

    /// <summary>Builds <c>nodes</c>.</summary>
    public static Command CreateNodes()
    {
        var control = new ControlOptions();
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("nodes", "List known nodes and their status") { json };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var nodes = await client.ListNodesAsync(ct);
            if (pr.GetValue(json))
            {
                var reply = new Transport.V1.ListNodesReply();
                reply.Nodes.AddRange(nodes);
                Console.WriteLine(RunReport.ToJson(reply));
            }
            else
            {
                // tasks: held now / capacity (how many it runs at the same time); "-" for a node not connected.
                if (nodes.Count > 0) Console.WriteLine($"{"NODE",-16} {"STATUS",-16} {"APP",-10} {"TASKS",-6} {"LAST HEARTBEAT",-34} ADDRESS");
                foreach (var n in nodes)
                {
                    string datasets = n.Datasets.Count == 0 ? "" : "  data sets: " + string.Join(", ", n.Datasets.Select(d => $"{d.Name} (schema {Apps.DatasetSchema.Short(d.SchemaHash)}{(d.Columns > 0 ? $", {d.Columns} columns" : "")})"));
                    Console.WriteLine($"{n.Name,-16} {n.Status,-16} {n.App,-10} {(n.Capacity > 0 && n.TypedStatus() != NodeStatus.Offline ? $"{n.Tasks}/{n.Capacity}" : "-"),-6} {n.LastHeartbeat,-34} {n.Address}{datasets}");
                }
            }
            return 0;
        });
        return command;
    }
}
