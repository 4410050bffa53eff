using Cohort.Audit;
using Cohort.Cli;
using Cohort.Cli.Control;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.Channels;

namespace Cohort.Integration.Tests.Security;

/// <summary>`cohort token list`, `cohort token revoke` and `cohort nodes remove`, on a real server with real node processes.</summary>
public sealed class TokenRevocationTests
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Revoking_a_node_that_holds_a_task_fails_the_task_at_once_instead_of_at_the_round_timeout()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "holder", await server.Control.CreateNodeTokenAsync("holder", default));
        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, timeout: "120s"), "held", default, skipPreflight: true);
        // The node takes its task and never answers it.
        await node.PullAsync(Cohort.Transport.V1.TaskKind.GetParameters, TimeSpan.FromSeconds(30));

        var revoked = await server.Control.RevokeTokenAsync("holder", false, default);

        Assert.True(revoked.Revoked);
        Assert.True(revoked.WasOnline);
        Assert.Equal(1, revoked.TasksFailed);
        // The run hears of it now, not after its 120 s round timeout.
        var detail = await server.WaitForRunAsync(run.Id).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("failed", detail.Run.Status);
        Assert.Contains("holder: node token revoked", detail.Run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_list_shows_node_and_operator_tokens_with_kinds_and_roles_and_no_secret()
    {
        await using var server = await TestServer.StartAsync();
        string nodeToken = await server.Control.CreateNodeTokenAsync("cleveland", default);
        string viewerToken = await server.Control.CreateViewerTokenAsync("grafana", default);
        string operatorToken = await server.Control.CreateViewerTokenAsync("ci-bot", default, "operator");

        var (exit, output) = await CliProcess.RunAsync(Cli(server, "token", "list"), CliTimeout);
        Assert.Equal(0, exit);
        Assert.Matches(@"cleveland\s+node\s+-\s+20\d\d-", output);
        Assert.Matches(@"grafana\s+operator\s+viewer\s+20\d\d-", output);
        Assert.Matches(@"ci-bot\s+operator\s+operator\s+20\d\d-", output);

        (exit, string json) = await CliProcess.RunAsync(Cli(server, "token", "list", "--json"), CliTimeout);
        Assert.Equal(0, exit);
        Assert.Contains("\"kind\": \"node\"", json);
        Assert.Contains("\"role\": \"operator\"", json);
        foreach (string secret in new[] { nodeToken, viewerToken, operatorToken })
        {
            Assert.DoesNotContain(secret, output + json);
            Assert.DoesNotContain(Server.Security.Tokens.Hash(secret), output + json);
        }
    }

    [Fact]
    public async Task Revoking_a_connected_nodes_token_makes_it_exit_with_the_reason_offline_and_refused_after_a_restart()
    {
        int port = TestServer.FreePort();
        var server = await TestServer.StartAsync(port: port);
        string dataDir = server.DataDir;
        string token = await server.Control.CreateNodeTokenAsync("cleveland", default);
        await using var other = CliProcess.StartNode(server, "zurich", await server.Control.CreateNodeTokenAsync("zurich", default), "empty");
        await using var node = CliProcess.StartNode(server, "cleveland", token, "empty");
        try
        {
            await server.WaitForNodesAsync(2, processes: [node, other]);

            var (exit, output) = await CliProcess.RunAsync(Cli(server, "token", "revoke", "cleveland"), CliTimeout);
            Assert.Equal(0, exit);
            Assert.Contains("node token of 'cleveland' revoked; the node was connected and is offline now", output);
            // Offline at once, not after the node timeout.
            Assert.Equal("offline", (await server.Control.ListNodesAsync(default)).Single(n => n.Name == "cleveland").Status);

            Assert.Equal(1, await node.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("server refused node 'cleveland': the token of node 'cleveland' has been revoked", node.Output);
            Assert.DoesNotContain("   at ", node.Output);
            // The server and the other node go on.
            Assert.True(other.IsRunning);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, minEvaluate: 1), "after-revoke.yaml", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(run.Id)).Run.Status);
            (exit, output) = await CliProcess.RunAsync(Cli(server, "token", "list"), CliTimeout);
            Assert.DoesNotContain("cleveland", output);

            var ledger = File.ReadAllLines(Path.Combine(server.DataDir, AuditLedger.FileName)).Select(AuditEntry.Parse).ToList();
            Assert.Contains(ledger, e => e.Event.Kind == AuditKinds.TokenRevoked && e.Event.Node == "cleveland" && e.Event.Actor == "admin"
                && e.Event.Detail.Contains("node token of 'cleveland' revoked; the node was connected and is offline now"));

            await server.StopAsync();
            server = await TestServer.StartAsync(dataDir, port);
            await using var again = CliProcess.StartNode(server, "cleveland", token, "empty");
            Assert.Equal(1, await again.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("server refused node 'cleveland': unknown node token", again.Output);
            Assert.Equal("offline", (await server.Control.ListNodesAsync(default)).Single(n => n.Name == "cleveland").Status);

            // Gone for good: its row can be dropped now, and the node list no longer shows it.
            (exit, output) = await CliProcess.RunAsync(Cli(server, "nodes", "remove", "cleveland"), CliTimeout);
            Assert.Equal(0, exit);
            Assert.Contains("node 'cleveland' removed", output);
            Assert.DoesNotContain(await server.Control.ListNodesAsync(default), n => n.Name == "cleveland");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_revoked_operator_token_is_refused_on_its_next_control_call()
    {
        await using var server = await TestServer.StartAsync();
        string token = await server.Control.CreateViewerTokenAsync("ci-bot", default, "operator");
        using var bot = new ControlClient(new ConnectionOptions(server.Host.Address.ToString(), token, server.Host.CaFile));
        Assert.NotNull(await bot.ListNodesAsync(default));

        var (exit, output) = await CliProcess.RunAsync(Cli(server, "token", "revoke", "ci-bot", "--viewer"), CliTimeout);
        Assert.Equal(0, exit);
        Assert.Contains("operator token 'ci-bot' revoked", output);

        // The same channel: its next call carries the revoked token.
        var refused = await Assert.ThrowsAsync<CliException>(() => bot.ListNodesAsync(default));
        Assert.Contains("unknown admin or operator token", refused.Message);
        var ledger = File.ReadAllLines(Path.Combine(server.DataDir, AuditLedger.FileName)).Select(AuditEntry.Parse).ToList();
        Assert.Contains(ledger, e => e.Event.Kind == AuditKinds.TokenRevoked && e.Event.Detail.Contains("operator token 'ci-bot' revoked"));
    }

    [Fact]
    public async Task A_viewer_cannot_list_or_revoke_tokens_and_an_unknown_name_is_named()
    {
        await using var server = await TestServer.StartAsync();
        await server.Control.CreateNodeTokenAsync("cleveland", default);
        string viewer = await server.Control.CreateViewerTokenAsync("grafana", default);
        string[] AsViewer(params string[] args) => [.. args, "--server", server.Host.Address.ToString(), "--ca", server.Host.CaFile!, "--token", viewer];

        var (exit, output) = await CliProcess.RunAsync(AsViewer("token", "revoke", "cleveland"), CliTimeout);
        Assert.NotEqual(0, exit);
        Assert.Contains("role viewer lacks permission manage_nodes", output);
        (exit, output) = await CliProcess.RunAsync(AsViewer("token", "revoke", "grafana", "--viewer"), CliTimeout);
        Assert.NotEqual(0, exit);
        Assert.Contains("role viewer lacks permission manage_users", output);
        (exit, output) = await CliProcess.RunAsync(AsViewer("token", "list"), CliTimeout);
        Assert.NotEqual(0, exit);
        Assert.Contains("role viewer lacks permission manage_nodes", output);
        Assert.Single(await server.Control.ListTokensAsync(default), t => t.Name == "cleveland");

        (exit, output) = await CliProcess.RunAsync(Cli(server, "token", "revoke", "nowhere"), CliTimeout);
        Assert.Equal(1, exit);
        Assert.Contains("no node token named 'nowhere'", output);
        Assert.DoesNotContain("   at ", output);
        (exit, output) = await CliProcess.RunAsync(Cli(server, "token", "revoke", "grafana"), CliTimeout);
        Assert.Equal(1, exit);
        Assert.Contains("no node token named 'grafana' (an operator token has that name: revoke it with --viewer)", output);
    }

    private static string[] Cli(TestServer server, params string[] args) =>
        [.. args, "--server", server.Host.Address.ToString(), "--ca", server.Host.CaFile!, "--token", server.Host.AdminToken];
}
