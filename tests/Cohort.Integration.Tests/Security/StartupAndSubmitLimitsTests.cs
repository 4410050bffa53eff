using System.Text;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests.Security;

/// <summary>Loud warnings for plaintext, and caps on what one submission may carry.</summary>
public sealed class StartupAndSubmitLimitsTests
{
    [Fact]
    public async Task Server_and_node_warn_loudly_on_every_start_with_insecure()
    {
        await using var server = await ServerProcess.StartAsync("--insecure");
        await server.Process.WaitForOutputAsync("WARNING: --insecure");
        string token = await server.Control.CreateNodeTokenAsync("plain", default);
        await using var node = CliProcess.Start(["node", "--server", server.Address.ToString(), "--name", "plain", "--app", "empty", "--insecure", "--token", token]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!node.Output.Contains("WARNING: --insecure", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no warning from the node:\n{node.Output}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Plans_over_the_size_or_key_limit_are_refused_at_submit_with_a_clear_error()
    {
        await using var server = await ServerProcess.StartAsync();
        string dir = Directory.CreateTempSubdirectory("cohort-plans-").FullName;
        try
        {
            string basePlan = TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1);
            string huge = Path.Combine(dir, "huge.yaml");
            await File.WriteAllTextAsync(huge, basePlan + "\n# " + new string('x', 1 << 20) + "\n");
            var keys = new StringBuilder("app:\n  name: empty\n  settings:\n");
            for (int i = 0; i < 1001; i++) keys.Append("    k").Append(i).Append(": 1\n");
            string many = Path.Combine(dir, "many.yaml");
            await File.WriteAllTextAsync(many, basePlan.Replace("app: { name: empty }", keys.ToString().TrimEnd('\n'), StringComparison.Ordinal));

            string[] control = ["--server", server.Address.ToString(), "--admin-token", server.AdminToken, "--ca", server.CaFile];
            var (code, output) = await CliProcess.RunAsync(["run", "submit", huge, .. control]);
            Assert.NotEqual(0, code);
            Assert.Contains("the limit is 1048576 bytes", output);
            (code, output) = await CliProcess.RunAsync(["run", "submit", many, .. control]);
            Assert.NotEqual(0, code);
            Assert.Contains("plan has 1001 app settings, strategy parameters and config keys; the limit is 1000", output);
            Assert.Empty(await server.Control.ListAsync(null, default));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
