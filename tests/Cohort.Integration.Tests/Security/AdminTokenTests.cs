using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Integration.Tests.Security;

/// <summary>An empty or short admin token must never mean "no authentication".</summary>
public sealed class AdminTokenTests
{
    [Fact]
    public async Task Server_refuses_to_start_with_an_empty_admin_token_option()
    {
        string dataDir = TempDir();
        var (code, output) = await CliProcess.RunAsync(["server", "--port", "0", "--dashboard-port", "-1", "--data-dir", dataDir, "--admin-token", ""]);
        Assert.NotEqual(0, code);
        Assert.Contains("admin token from --admin-token is empty", output);
        Assert.Contains("at least 32 characters", output);
        Assert.DoesNotContain("listening on", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \n")]
    [InlineData("short-secret")]
    public async Task Server_refuses_to_start_with_an_empty_or_short_admin_token_file(string content)
    {
        string dataDir = TempDir();
        Directory.CreateDirectory(dataDir);
        string file = Path.Combine(dataDir, "admin.token");
        await File.WriteAllTextAsync(file, content);
        var (code, output) = await CliProcess.RunAsync(["server", "--port", "0", "--dashboard-port", "-1", "--data-dir", dataDir]);
        Assert.NotEqual(0, code);
        Assert.Contains($"admin token from {file}", output);
        Assert.Contains("32", output);
        Assert.DoesNotContain("listening on", output);
        Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Control_calls_with_an_empty_bearer_token_are_refused()
    {
        await using var server = await ServerProcess.StartAsync();
        foreach (string token in new[] { "", " " })
        {
            using var channel = GrpcChannels.Create(new ConnectionOptions(server.Address.ToString(), token, server.CaFile));
            var control = new Control.ControlClient(channel);
            var listing = await Assert.ThrowsAsync<RpcException>(async () => await control.ListRunsAsync(new ListRunsRequest()));
            Assert.Equal(StatusCode.Unauthenticated, listing.StatusCode);
            var minting = await Assert.ThrowsAsync<RpcException>(async () => await control.CreateNodeTokenAsync(new CreateNodeTokenRequest { NodeName = "intruder" }));
            Assert.Equal(StatusCode.Unauthenticated, minting.StatusCode);
        }
        // The real token still works, so the refusals above are about the token.
        Assert.NotNull(await server.Control.ListAsync(null, CancellationToken.None));
    }

    private static string TempDir() => Path.Combine(Path.GetTempPath(), "cohort-admin-" + Guid.NewGuid().ToString("N")[..8]);
}
