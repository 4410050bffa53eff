using Cohort.Cli.Commands;

namespace Cohort.Simulation.Tests;

public sealed class FraudExampleTests
{
    [Fact]
    public async Task The_fraud_example_finds_fraud_far_better_than_its_positive_rate_and_pools_metrics_as_the_server_holding_the_rows_would()
    {
        using var dir = new TempDir();
        string plan = RepositoryPaths.Combine("examples", "fraud", "plan.yaml");
        var summary = await SimulateCommand.RunAsync(plan, Path.Combine(dir.Path, "state"), null, Path.Combine(dir.Path, "summary.json"), TextWriter.Null, CancellationToken.None);

        Assert.Equal("finished", summary["status"]!.GetValue<string>());
        double positiveRate = PositiveRate(RepositoryPaths.Combine("examples", "fraud", "data"));
        Assert.InRange(positiveRate, 0.02, 0.06);
        double prAuc = summary["final_pr_auc"]!.GetValue<double>(), auc = summary["final_auc"]!.GetValue<double>();
        Assert.True(prAuc > 5 * positiveRate, $"pooled PR-AUC {prAuc} vs positive rate {positiveRate}");
        Assert.True(auc > 0.85, $"pooled ROC-AUC {auc}");
        Assert.True(summary["final_f1"]!.GetValue<double>() > 0.3, summary.ToJsonString());
        // The federated figures come from the banks' score histograms; the central ones from the rows themselves.
        Assert.InRange(auc - summary["final_central_auc"]!.GetValue<double>(), -0.005, 0.005);
        Assert.InRange(prAuc - summary["final_central_pr_auc"]!.GetValue<double>(), -0.03, 0.03);
    }

    [Fact]
    public void The_committed_fraud_data_is_what_the_generator_writes()
    {
        using var dir = new TempDir();
        foreach (var written in FraudExampleData.Write(dir.Path))
            Assert.Equal(File.ReadAllText(RepositoryPaths.Combine("examples", "fraud", "data", Path.GetFileName(written))), File.ReadAllText(written));
    }

    private static double PositiveRate(string dataDir)
    {
        long rows = 0, positives = 0;
        foreach (var file in Directory.GetFiles(dataDir, "*.csv"))
        {
            foreach (var line in File.ReadLines(file).Skip(1))
            {
                rows++;
                if (line.EndsWith(",1", StringComparison.Ordinal)) positives++;
            }
        }
        return (double)positives / rows;
    }
}
