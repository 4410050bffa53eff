using Cohort.Cli.Control;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Hosting;

namespace Cohort.Integration.Tests;

/// <summary>Operator commands beside a server's data folder find the server there, on whatever port it took.</summary>
public sealed class ServerAddressFileTests
{
    [Fact]
    public async Task Commands_given_only_the_data_folder_reach_a_server_on_an_ephemeral_port()
    {
        await using var server = await ServerProcess.StartAsync();
        string file = CohortServerHost.AddressFile(server.DataDir);
        Assert.Equal(server.Address.ToString(), File.ReadAllText(file).Trim());
        Assert.NotEqual(7300, server.Address.Port);

        var noServer = new Dictionary<string, string> { ["COHORT_SERVER"] = "" };
        var (code, output) = await CliProcess.RunAsync(["token", "create", "site1", "--data-dir", server.DataDir], environment: noServer);
        Assert.True(code == 0, output);
        Assert.Contains(await server.Control.ListNodesAsync(CancellationToken.None), n => n.Name == "site1");
        (code, output) = await CliProcess.RunAsync(["run", "list", "--data-dir", server.DataDir], environment: noServer);
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task The_address_file_goes_when_the_server_stops()
    {
        await using var server = await ServerProcess.StartAsync();
        string file = CohortServerHost.AddressFile(server.DataDir);
        Assert.True(File.Exists(file));
        using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", server.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await term.WaitForExitAsync();
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(File.Exists(file));
    }

    [Fact]
    public void An_explicit_server_or_the_environment_wins_over_the_file()
    {
        string dataDir = Directory.CreateTempSubdirectory("cohort-address-").FullName;
        try
        {
            Assert.Equal("https://localhost:7300", ControlOptions.ServerAddress(null, dataDir));
            File.WriteAllText(CohortServerHost.AddressFile(dataDir), "https://localhost:41234/\n");
            Assert.Equal("https://localhost:41234/", ControlOptions.ServerAddress(null, dataDir));
            Assert.Equal("https://elsewhere:7300", ControlOptions.ServerAddress("https://elsewhere:7300", dataDir));
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
