using System.CommandLine;
using System.Text.Json.Nodes;
using Cohort.Cli.Commands;

namespace Cohort.Simulation.Tests;

public sealed class SimulateCommandTests
{
    [Fact]
    public async Task Simulate_runs_a_plan_file_and_writes_its_JSON_summary()
    {
        using var dir = new TempDir();
        string plan = Path.Combine(dir.Path, "plan.yaml");
        await File.WriteAllTextAsync(plan, """
            name: cli-synthetic
            app: { name: tabular, settings: { label: y } }
            strategy: { name: fedavg }
            rounds: 4
            selection: { min_available: 20, min_fit: 5, fraction_fit: 0.25, fraction_evaluate: 0.0 }
            train: { local_epochs: 2, batch_size: 8, learning_rate: 0.1 }
            simulation: { clients: 20, workers: 2, partitioner: iid, data: { synthetic: { rows: 2000, features: 5 } }, histogram: true }
            """);
        string summaryFile = Path.Combine(dir.Path, "out", "summary.json");
        var printed = new StringWriter();
        var root = new RootCommand { SimulateCommand.Create(printed) };
        int exit = await root.Parse(["simulate", plan, "--summary", summaryFile, "--data-dir", Path.Combine(dir.Path, "state"), "--rounds", "3", "--quiet"]).InvokeAsync();
        Assert.Equal(0, exit);
        var summary = JsonNode.Parse(await File.ReadAllTextAsync(summaryFile))!;
        Assert.Equal("finished", summary["status"]!.GetValue<string>());
        Assert.Equal(3, summary["rounds_done"]!.GetValue<int>());
        Assert.Equal(20, summary["clients"]!.GetValue<int>());
        Assert.Equal(3, summary["rounds"]!.AsArray().Count);
        Assert.All(summary["rounds"]!.AsArray(), r => Assert.Equal(5, r!["fit_ok"]!.GetValue<int>()));
        Assert.True(summary["final_central_accuracy"]!.GetValue<double>() > 0.7, summary.ToJsonString());
        Assert.True(summary["final_central_auc"]!.GetValue<double>() > 0.7, summary.ToJsonString());
        Assert.InRange(summary["final_central_pr_auc"]!.GetValue<double>(), 0.5, 1.0);
        Assert.InRange(summary["final_central_f1"]!.GetValue<double>(), 0.5, 1.0);
        Assert.True(File.Exists(summary["model"]!.GetValue<string>()));
        // --quiet prints exactly the summary line: status, rounds, final test figures and wall time.
        string[] lines = printed.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string line = Assert.Single(lines);
        Assert.StartsWith("simulation finished, 3/3 rounds, test loss ", line);
        Assert.Contains($"test accuracy {summary["final_central_accuracy"]!.GetValue<double>():0.000}", line);
        Assert.Contains(", test auc ", line);
        Assert.Matches(@", \d+\.\ds\r?$", line);
    }
}
