using Cohort.Apps.Tabular;
using Cohort.Evaluation;
using Cohort.Learning.Data;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Apps.Tests.Tabular;

public sealed class ImbalanceTests
{
    // A site with 5% positives whose signal is two features; rows already standardised.
    private static TabularSplit Site(int seed = 3)
    {
        TabularDataset Make(int rows, Random random)
        {
            var x = new float[rows * 4];
            var y = new float[rows];
            for (int i = 0; i < rows; i++)
            {
                bool positive = random.NextDouble() < 0.05;
                y[i] = positive ? 1 : 0;
                for (int j = 0; j < 4; j++) x[i * 4 + j] = (float)(Gaussian(random) + (positive && j < 2 ? 1.2 : 0));
            }
            return new TabularDataset(x, y, ["a", "b", "c", "d"]);
        }
        var random = new Random(seed);
        return new TabularSplit(Make(2000, random), Make(1000, random), true);
    }

    private static TabularSettings Settings(params (string Key, Scalar Value)[] extra) =>
        TabularSettings.FromConfig(new Config(new[] { ("label", Scalar.Of("y")) }.Concat(extra).Select(kv => KeyValuePair.Create(kv.Item1, kv.Item2))));

    private static readonly Config Fit = new([
        KeyValuePair.Create("local_epochs", Scalar.Of(5)), KeyValuePair.Create("batch_size", Scalar.Of(32)),
        KeyValuePair.Create("learning_rate", Scalar.Of(0.05)), KeyValuePair.Create("seed", Scalar.Of(1))]);

    private static async Task<Metrics> TrainAndEvaluateAsync(TabularApp app)
    {
        var initial = await app.GetParametersAsync(Config.Empty, CancellationToken.None);
        var fit = await app.FitAsync(initial, Fit, CancellationToken.None);
        return (await app.EvaluateAsync(fit.Parameters, Config.Empty, CancellationToken.None)).Metrics;
    }

    [Fact]
    public async Task Balanced_class_weights_trade_precision_for_recall_of_the_rare_class()
    {
        var plain = await TrainAndEvaluateAsync(new TabularApp(Settings(), Site(), "site"));
        var app = new TabularApp(Settings(("class_weight", "balanced")), Site(), "site");
        var weighted = await TrainAndEvaluateAsync(app);

        Assert.Equal(2000.0 / (2 * app.TrainingRows.PositiveCount), app.Loss.PositiveWeight, 9);
        Assert.True(plain["recall"].AsDouble() < 0.2, $"plain recall {plain["recall"]}");
        Assert.True(weighted["recall"].AsDouble() > 0.5, $"weighted recall {weighted["recall"]}");
        Assert.True(weighted["balanced_accuracy"].AsDouble() > plain["balanced_accuracy"].AsDouble() + 0.1);
    }

    [Fact]
    public async Task Oversampling_grows_only_the_training_rows_and_fedavg_still_weighs_the_real_ones()
    {
        foreach (string method in new[] { "random", "smote" })
        {
            var app = new TabularApp(Settings(("oversample", method)), Site(), "site");
            Assert.Equal(app.TrainingRows.Count - app.TrainingRows.PositiveCount, app.TrainingRows.PositiveCount);
            Assert.Equal(1000, app.Data.Test.Count);
            var initial = await app.GetParametersAsync(Config.Empty, CancellationToken.None);
            var fit = await app.FitAsync(initial, Fit, CancellationToken.None);
            Assert.Equal(2000, fit.Examples);
            var m = (await app.EvaluateAsync(fit.Parameters, Config.Empty, CancellationToken.None)).Metrics;
            Assert.True(m["recall"].AsDouble() > 0.5, $"{method}: recall {m["recall"]}");
        }
    }

    [Fact]
    public async Task Focal_loss_trains_and_a_threshold_chosen_for_f1_on_validation_rows_is_reported()
    {
        var app = new TabularApp(Settings(("loss", "focal"), ("focal_gamma", 2.0), ("threshold", "max_f1")), Site(), "site");
        Assert.Equal(400, app.Validation!.Count);
        Assert.Equal(1600, app.TrainExamples);
        var m = await TrainAndEvaluateAsync(app);
        double t = m["threshold"].AsDouble();
        Assert.NotEqual(0.5, t);
        Assert.InRange(t, 0.001, 0.999);
        var fixedAt = await TrainAndEvaluateAsync(new TabularApp(Settings(("loss", "focal"), ("threshold", "0.5")), Site(), "site"));
        Assert.Null(new TabularApp(Settings(("threshold", "0.3")), Site(), "site").Validation);
        Assert.True(m["f1"].AsDouble() > fixedAt["f1"].AsDouble(), $"f1 at the chosen threshold {m["f1"]}, at 0.5 {fixedAt["f1"]}");

        var recall = new TabularApp(Settings(("threshold", "recall:0.9")), Site(), "site");
        Assert.True((await TrainAndEvaluateAsync(recall))["recall"].AsDouble() > 0.7);
    }

    [Fact]
    public void Explicit_class_weights_come_from_a_plan_map_and_bad_values_are_named()
    {
        var plan = PlanParser.Parse("""
            name: w
            app: { name: tabular, settings: { label: y, class_weight: { 0: 1, 1: 12.5 } } }
            strategy: { name: fedavg }
            rounds: 1
            """, "plan.yaml", StrategyRegistry.CreateDefault());
        var settings = TabularSettings.FromConfig(plan.App.Settings);
        Assert.Equal(("explicit", (1.0, 12.5)), (settings.Imbalance.ClassWeight, settings.Imbalance.Weights));

        Assert.Contains("'class_weight.2' names no class", Assert.Throws<AppConfigurationException>(() => Settings(("class_weight.2", 3))).Message);
        Assert.Contains("'class_weight.1' is '-1'", Assert.Throws<AppConfigurationException>(() => Settings(("class_weight.1", -1))).Message);
        Assert.Contains("allowed: none, balanced", Assert.Throws<AppConfigurationException>(() => Settings(("class_weight", "auto"))).Message);
        Assert.Contains("allowed: none, random, smote", Assert.Throws<AppConfigurationException>(() => Settings(("oversample", "adasyn"))).Message);
        Assert.Contains("'focal_gamma' is set but loss is bce", Assert.Throws<AppConfigurationException>(() => Settings(("focal_gamma", 2))).Message);
        Assert.Contains("'threshold' is 'best'", Assert.Throws<AppConfigurationException>(() => Settings(("threshold", "best"))).Message);
    }

    [Fact]
    public async Task Pooled_confusion_counts_of_two_sites_give_exact_precision_and_recall()
    {
        var a = await TrainAndEvaluateAsync(new TabularApp(Settings(("class_weight", "balanced")), Site(3), "a"));
        var b = await TrainAndEvaluateAsync(new TabularApp(Settings(("class_weight", "balanced")), Site(4), "b"));
        var summary = new WeightedMetrics();
        summary.Add(a, 1000);
        summary.Add(b, 1000);
        var pooled = summary.ToMetrics();
        var sum = ConfusionCounts.FromMetrics(a)!.Value + ConfusionCounts.FromMetrics(b)!.Value;
        Assert.Equal(sum.Precision, pooled["precision"].AsDouble(), 12);
        Assert.Equal(sum.Recall, pooled["recall"].AsDouble(), 12);
        Assert.True(pooled.ContainsKey("auc_site_mean") && pooled.ContainsKey("pr_auc_site_mean"));
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
