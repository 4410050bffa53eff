using Cohort.Apps.Tabular;
using Cohort.Engine.Models;
using Cohort.Engine.State;
using Cohort.Learning.Data;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Simulation.Tests;

public sealed class FederatedStatisticsSimulationTests
{
    private static readonly string FraudDir = RepositoryPaths.Combine("examples", "fraud");

    // The fraud example's three banks, globally standardised, with bank_c's file also held by the server.
    private static Plan FraudPlan(string standardize, string? extra = null)
    {
        string text = File.ReadAllText(Path.Combine(FraudDir, "plan.yaml"))
            .Replace("standardize: site", $"standardize: {standardize}", StringComparison.Ordinal)
            .Replace("rounds: 20", "rounds: 3", StringComparison.Ordinal)
            + (extra ?? "");
        return PlanParser.Parse(text, "fraud-global", StrategyRegistry.CreateDefault());
    }

    private static SimulationOptions Options(string dir) => new() { DataDir = dir, BaseDirectory = FraudDir };

    [Fact]
    public async Task A_global_standardisation_run_preprocesses_with_the_statistics_of_all_banks_training_rows_pooled()
    {
        using var dir = new TempDir();
        var plan = FraudPlan("global");

        var result = await SimulationRunner.RunAsync(plan, Options(dir.Path), CancellationToken.None);

        Assert.Equal(RunStatus.Finished, result.Run.Status);
        var saved = await new ModelStore(Path.Combine(dir.Path, "models")).LoadStatisticsAsync(result.Run.Id, CancellationToken.None);
        Assert.NotNull(saved);
        var stats = FederatedTabularStatistics.FromJson(saved[TabularSettings.StatisticsKey].AsString(), "saved");
        var settings = TabularSettings.FromConfig(plan.App.Settings);

        // The same figures computed directly from the three files' training rows, in one place.
        var amounts = new List<double>();
        long positives = 0, rows = 0;
        foreach (var bank in new[] { "bank_a", "bank_b", "bank_c" })
        {
            var table = TabularReader.ReadFile(Path.Combine(FraudDir, "data", bank + ".csv"), TabularPreprocessor.ReadOptionsFor(settings.Read, settings.Preprocess));
            var (train, _) = TabularPreprocessor.SplitRows(table, settings.Preprocess);
            foreach (int r in train)
            {
                amounts.Add(table["amount"].Numbers![r]);
                if (table["is_fraud"].Texts![r] == "1") positives++; // the label is read as text
            }
            rows += train.Length;
        }
        double mean = amounts.Average();
        double std = Math.Sqrt(amounts.Sum(a => (a - mean) * (a - mean)) / (amounts.Count - 1));
        Assert.Equal(3, stats.Sites);
        Assert.Equal(rows, stats.Rows);
        Assert.Equal(positives, stats.Positives);
        Assert.Equal(mean, stats.Mean("amount"), 1e-9 * mean);
        Assert.Equal(std, stats.Std("amount"), 1e-9 * std);
        Assert.Equal(["digital_goods", "electronics", "fuel", "grocery", "online_retail", "restaurant", "travel", FederatedTabularStatistics.OtherCategory], stats.Vocabularies["merchant"]);
    }

    [Fact]
    public async Task A_server_held_test_file_is_scored_with_the_federated_preprocessing_every_round()
    {
        using var dir = new TempDir();
        var plan = FraudPlan("global", "\ncentral_evaluation:\n  file: data/bank_c.csv\n");

        var result = await SimulationRunner.RunAsync(plan, Options(dir.Path), CancellationToken.None);

        Assert.Equal(RunStatus.Finished, result.Run.Status);
        Assert.Equal(3, result.Rounds.Count);
        foreach (var round in result.Rounds)
        {
            Assert.NotNull(round.CentralLoss);
            foreach (var metric in new[] { "accuracy", "auc", "pr_auc", "f1", "precision", "tp", "fn" })
                Assert.True(round.CentralMetrics.ContainsKey(metric), $"round {round.Round} central metrics lack {metric}: {string.Join(", ", round.CentralMetrics.Keys)}");
        }
        // All of bank_c's 1,500 rows are scored (not the held-out share the simulation would score by itself).
        var last = result.Rounds[^1].CentralMetrics;
        Assert.Equal(1500, last.GetDouble("tp", 0) + last.GetDouble("fp", 0) + last.GetDouble("tn", 0) + last.GetDouble("fn", 0));
        Assert.True(last.GetDouble("auc", 0) > 0.8, $"central auc {last.GetDouble("auc", 0)}");
    }

    [Fact]
    public async Task A_missing_central_evaluation_file_fails_the_run_naming_it()
    {
        using var dir = new TempDir();
        var plan = FraudPlan("site", "\ncentral_evaluation:\n  file: data/no_such_bank.csv\n");

        var result = await SimulationRunner.RunAsync(plan, Options(dir.Path), CancellationToken.None);

        Assert.Equal(RunStatus.Failed, result.Run.Status);
        Assert.Contains("central_evaluation: file '", result.Run.Error);
        Assert.Contains("no_such_bank.csv' not found", result.Run.Error);
    }
}
