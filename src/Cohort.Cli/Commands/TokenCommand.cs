using System.CommandLine;
using Cohort.Cli.Control;
using Cohort.Engine.State;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort token create|list|revoke</c> and <c>cohort nodes [remove]</c>: enrol sites, see them, cut them off and forget them.</summary>
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
        token.Subcommands.Add(List());
        token.Subcommands.Add(Revoke());
        return token;
    }

    private static Command List()
    {
        var control = new ControlOptions();
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("list", "List node and operator tokens: name, kind, role, when issued and (node tokens) when the node was last seen; never a token or its hash. Needs manage_nodes and manage_users (admin)") { json };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var tokens = await client.ListTokensAsync(ct);
            if (pr.GetValue(json))
            {
                var reply = new Transport.V1.ListTokensReply();
                reply.Tokens.AddRange(tokens);
                Console.WriteLine(RunReport.ToJson(reply));
                return 0;
            }
            if (tokens.Count > 0) Console.WriteLine($"{"NAME",-24} {"KIND",-9} {"ROLE",-9} {"CREATED",-34} LAST USED");
            foreach (var t in tokens)
                Console.WriteLine($"{t.Name,-24} {t.Kind,-9} {(t.Role.Length > 0 ? t.Role : "-"),-9} {(t.CreatedAt.Length > 0 ? t.CreatedAt : "-"),-34} {(t.LastUsed.Length > 0 ? t.LastUsed : "-")}");
            return 0;
        });
        return command;
    }

    private static Command Revoke()
    {
        var control = new ControlOptions();
        var name = new Argument<string>("name") { Description = "Node (site) name, or the operator token's name with --viewer" };
        var viewer = new Option<bool>("--viewer") { Description = "Revoke the operator token of that name instead of a node token" };
        var command = new Command("revoke", "Revoke a node token (the node is offline at once, its tasks fail, and it exits naming the revocation) or with --viewer an operator token; " +
            "the server deletes its hash, so it authenticates nothing from then on. Needs the permission creating it takes (admin)") { name, viewer };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            string who = pr.GetValue(name)!;
            var reply = await client.RevokeTokenAsync(who, pr.GetValue(viewer), ct);
            Console.WriteLine(pr.GetValue(viewer)
                ? $"operator token '{who}' revoked ({reply.SessionsEnded} session(s) ended)"
                : $"node token of '{who}' revoked{(reply.WasOnline ? $"; the node was connected and is offline now ({reply.TasksFailed} task(s) it held failed)" : "")}");
            return 0;
        });
        return command;
    }

    private static Command RemoveNode()
    {
        var control = new ControlOptions();
        var name = new Argument<string>("name") { Description = "Node (site) name" };
        var command = new Command("remove", "Forget a node that has left: its row in `cohort nodes` and the dashboard (its results in runs stay). Revoke its token first (manage_nodes, admin)") { name };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            await client.RemoveNodeAsync(pr.GetValue(name)!, ct);
            Console.WriteLine($"node '{pr.GetValue(name)}' removed");
            return 0;
        });
        return command;
    }

    /// <summary>Builds <c>nodes</c>.</summary>
    public static Command CreateNodes()
    {
        var control = new ControlOptions();
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("nodes", "List known nodes and their status") { json };
        command.Subcommands.Add(RemoveNode());
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
