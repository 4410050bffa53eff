using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>`cohort token create NAME` for a node the server knows replaces its token and says so; for one connected now it takes --replace.</summary>
public sealed class TokenReplaceTests
{
    [Fact]
    public async Task Creating_a_token_for_a_known_node_says_the_old_one_is_replaced_and_a_new_name_gets_no_notice()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "cleveland", await server.Control.CreateNodeTokenAsync("cleveland", default));
        string[] Create(string name) => ["token", "create", name, "--server", server.Host.Address.ToString(), "--ca", server.Host.CaFile!, "--token", server.Host.AdminToken];

        // Connected now: a repeated create (a user looking for the token again) would cut it off, so it takes --replace.
        var (exit, output) = await CliProcess.RunAsync(Create("cleveland"), TimeSpan.FromSeconds(60));
        Assert.Equal(1, exit);
        Assert.Contains("node 'cleveland' is connected now (online) with its current token; a new one would cut it off from its next call. " +
            "The server keeps only a hash, so a lost token cannot be shown again: pass --replace to issue a new one and give it to the node", output);
        var info = Assert.Single(await server.Control.ListNodesAsync(default));
        Assert.Equal("online", info.Status);

        (exit, output) = await CliProcess.RunAsync([.. Create("cleveland"), "--replace"], TimeSpan.FromSeconds(60));
        Assert.Equal(0, exit);
        Assert.Contains("node 'cleveland' had a token: it is replaced, and a node still using the old one is refused from its next call", output);
        CliProcess.TokenIn(output);

        (exit, output) = await CliProcess.RunAsync(Create("zurich"), TimeSpan.FromSeconds(60));
        Assert.Equal(0, exit);
        Assert.DoesNotContain("had a token", output);
        CliProcess.TokenIn(output);
    }
}
