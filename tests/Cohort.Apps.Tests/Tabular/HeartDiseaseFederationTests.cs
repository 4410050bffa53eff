using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Learning.Models;
using Cohort.Learning.Optimizers;
using Cohort.Learning.Training;
using Xunit.Abstractions;

namespace Cohort.Apps.Tests.Tabular;

/// <summary>The FLamby Fed-Heart-Disease benchmark run in-process with the example plan.</summary>
public sealed class HeartDiseaseFederationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FedAvg_over_the_four_hospitals_for_15_rounds_reaches_flambys_fedavg_accuracy()
    {
        var plan = HeartDiseasePlan.Load();
        Assert.Equal(15, plan.Rounds);

        var outcome = await FederatedSimulation.RunAsync(plan, FederatedSimulation.CreateApps(plan));

        foreach (var (node, r) in outcome.PerNode)
            output.WriteLine($"{node}: accuracy {r.Metrics["accuracy"].AsDouble():F3} auc {(r.Metrics.ContainsKey("auc") ? r.Metrics["auc"].AsDouble().ToString("F3") : "-")} on {r.Examples}");
        output.WriteLine($"mean accuracy {outcome.MeanAccuracy:F4}");
        Assert.True(outcome.MeanAccuracy >= 0.685, $"mean test accuracy {outcome.MeanAccuracy:F4} is below FLamby's FedAvg 0.685");
    }

    [Fact]
    public async Task The_plans_tuned_training_settings_come_close_to_pooled_training()
    {
        // Any batch-order seed: the tuned settings should not depend on luck.
        foreach (long seed in new long[] { 1, 2, 3 })
        {
            var plan = HeartDiseasePlan.Load() with { Seed = seed };
            var outcome = await FederatedSimulation.RunAsync(plan, FederatedSimulation.CreateApps(plan));
            output.WriteLine($"seed {seed}: mean accuracy {outcome.MeanAccuracy:F4}");
            Assert.True(outcome.MeanAccuracy >= 0.72, $"seed {seed}: mean test accuracy {outcome.MeanAccuracy:F4}");
        }
    }

    [Fact]
    public async Task A_federated_run_is_reproducible()
    {
        var plan = HeartDiseasePlan.Load();

        var a = await FederatedSimulation.RunAsync(plan, FederatedSimulation.CreateApps(plan));
        var b = await FederatedSimulation.RunAsync(plan, FederatedSimulation.CreateApps(plan));

        Assert.Equal(a.Global["linear.weight"].Data, b.Global["linear.weight"].Data);
    }

    [Fact]
    public void Pooled_training_on_all_training_splits_reaches_flambys_pooled_accuracy()
    {
        var plan = HeartDiseasePlan.Load();
        var apps = FederatedSimulation.CreateApps(plan);
        var pooled = TabularDataset.Concat(apps.Values.Select(a => a.Data.Train).ToArray());
        var model = new LogisticRegression(pooled.FeatureCount);

        LocalTrainer.Train(model, new Adam(model.Weights.Length, 0.001), pooled, new TrainingOptions { Epochs = 10, BatchSize = 4, Seed = 0 }, []);

        double mean = apps.Values.Average(a => BinaryEvaluation.Of(model, a.Data.Test).Accuracy);
        output.WriteLine($"pooled mean accuracy {mean:F4}");
        Assert.True(mean >= 0.72, $"pooled mean accuracy {mean:F4}");
    }
}
