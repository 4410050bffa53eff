using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>`cohort token create NAME` for a node the server knows replaces its token, and says so.</summary>
public sealed class TokenReplaceTests
{
    [Fact]
    public async Task Creating_a_token_for_a_known_node_says_the_old_one_is_replaced_and_a_new_name_gets_no_notice()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "cleveland", await server.Control.CreateNodeTokenAsync("cleveland", default));
        string[] Create(string name) => ["token", "create", name, "--server", server.Host.Address.ToString(), "--ca", server.Host.CaFile!, "--token", server.Host.AdminToken];

        var (exit, output) = await CliProcess.RunAsync(Create("cleveland"), TimeSpan.FromSeconds(60));
        Assert.Equal(0, exit);
        Assert.Contains("node 'cleveland' had a token: it is replaced, and a node still using the old one is refused from its next call", output);
        CliProcess.TokenIn(output);

        (exit, output) = await CliProcess.RunAsync(Create("zurich"), TimeSpan.FromSeconds(60));
        Assert.Equal(0, exit);
        Assert.DoesNotContain("had a token", output);
        CliProcess.TokenIn(output);
    }
}
