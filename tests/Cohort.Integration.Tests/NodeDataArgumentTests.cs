using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>A node's <c>--data</c> is checked at start, before it connects: what the app cannot read stops it there, named.</summary>
public sealed class NodeDataArgumentTests
{
    [Fact]
    public async Task A_tabular_node_given_a_folder_as_its_data_is_refused_at_start_as_a_folder()
    {
        string folder = Path.Combine(Repo.Root, "examples", "heart-disease", "data");

        var (code, output) = await CliProcess.RunAsync(["node", "--server", "https://127.0.0.1:1", "--name", "n", "--token", "t", "--app", "tabular", "--data", folder],
            TimeSpan.FromSeconds(60));

        Assert.Equal(1, code);
        Assert.Contains($"cohort: --data {folder}: '{folder}' is a folder; app 'tabular' reads one CSV file (give the file itself)", output, StringComparison.Ordinal);
    }
}
