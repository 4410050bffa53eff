using Cohort.Apps.Tabular;
using Cohort.Learning.Models;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Apps.Tests.Tabular;

public sealed class TabularAppTests
{
    private static readonly Plan Plan = HeartDiseasePlan.Load();
    private static readonly Dictionary<string, TabularApp> Apps = HeartDiseasePlan.CreateApps(Plan);
    private static TabularApp Cleveland => Apps["cleveland"];

    private static Config FitConfig(params (string Key, Scalar Value)[] overrides) =>
        Plan.FitConfig(1).With(overrides.Select(o => KeyValuePair.Create(o.Key, o.Value)));

    private static async Task<ParameterSet> InitialAsync() => await Cleveland.GetParametersAsync(Config.Empty, CancellationToken.None);

    [Fact]
    public async Task Initial_parameters_are_a_zero_logistic_regression_over_13_features()
    {
        var p = await InitialAsync();

        Assert.Equal(["linear.weight float32[1,13]", "linear.bias float32[1]"], p.Select(t => t.Spec));
        Assert.All(p, t => Assert.All(t.AsFloat32().ToArray(), v => Assert.Equal(0f, v)));
    }

    [Fact]
    public async Task Fit_reports_training_examples_and_train_loss_and_accuracy()
    {
        var fit = await Cleveland.FitAsync(await InitialAsync(), FitConfig(), CancellationToken.None);

        Assert.Equal(199, fit.Examples);
        Assert.InRange(fit.Metrics["train_loss"].AsDouble(), 0.2, Math.Log(2));
        Assert.InRange(fit.Metrics["train_accuracy"].AsDouble(), 0.6, 1.0);
    }

    [Fact]
    public async Task Fit_is_deterministic_for_a_seed_and_round_and_reshuffles_in_another_round()
    {
        var initial = await InitialAsync();
        float[] Weights(FitResult r) => r.Parameters["linear.weight"].AsFloat32().ToArray();

        var a = await Cleveland.FitAsync(initial, FitConfig(), CancellationToken.None);
        var b = await Cleveland.FitAsync(initial, FitConfig(), CancellationToken.None);
        var c = await Cleveland.FitAsync(initial, FitConfig(("round", 2)), CancellationToken.None);

        Assert.Equal(Weights(a), Weights(b));
        Assert.NotEqual(Weights(a), Weights(c));
    }

    [Fact]
    public async Task One_full_batch_sgd_step_equals_learning_rate_times_the_gradient()
    {
        var initial = await InitialAsync();
        var fit = await Cleveland.FitAsync(initial, FitConfig(("local_steps", 1), ("batch_size", 1000), ("optimizer", "sgd"), ("learning_rate", 0.1)), CancellationToken.None);

        var reference = new LogisticRegression(13);
        reference.ComputeGradients(Cleveland.Data.Train.Features, Cleveland.Data.Train.Labels);
        var expected = reference.Gradients.ToArray().Select(g => -0.1f * g).ToArray();
        var actual = fit.Parameters["linear.weight"].AsFloat32().ToArray().Append(fit.Parameters["linear.bias"].AsFloat32()[0]).ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-6f);
    }

    [Fact]
    public async Task Adam_first_step_moves_every_weight_by_the_learning_rate()
    {
        var fit = await Cleveland.FitAsync(await InitialAsync(), FitConfig(("local_steps", 1), ("batch_size", 1000), ("optimizer", "adam"), ("learning_rate", 0.05)), CancellationToken.None);

        Assert.All(fit.Parameters["linear.weight"].AsFloat32().ToArray(), w => Assert.Equal(0.05f, Math.Abs(w), 1e-5f));
    }

    [Fact]
    public async Task Local_epochs_apply_when_local_steps_are_absent()
    {
        var initial = await InitialAsync();
        var epochs = new Config(FitConfig(("batch_size", 1000)).Where(kv => kv.Key is not ("local_steps" or "local_epochs"))
            .Append(KeyValuePair.Create("local_epochs", Scalar.Of(2))));

        var twoFullBatchEpochs = await Cleveland.FitAsync(initial, epochs, CancellationToken.None);
        var twoFullBatchSteps = await Cleveland.FitAsync(initial, FitConfig(("local_steps", 2), ("batch_size", 1000)), CancellationToken.None);
        var oneStep = await Cleveland.FitAsync(initial, FitConfig(("local_steps", 1), ("batch_size", 1000)), CancellationToken.None);

        Assert.Equal(twoFullBatchSteps.Parameters["linear.weight"].Data, twoFullBatchEpochs.Parameters["linear.weight"].Data);
        Assert.NotEqual(oneStep.Parameters["linear.weight"].Data, twoFullBatchEpochs.Parameters["linear.weight"].Data);
    }

    [Fact]
    public async Task Proximal_term_keeps_the_update_closer_to_the_global_model()
    {
        var initial = await InitialAsync();
        static double Norm(FitResult r) => Math.Sqrt(r.Parameters.Sum(t => t.AsFloat32().ToArray().Sum(v => (double)v * v)));

        var plain = await Cleveland.FitAsync(initial, FitConfig(("learning_rate", 0.05)), CancellationToken.None);
        var prox = await Cleveland.FitAsync(initial, FitConfig(("learning_rate", 0.05), ("proximal_mu", 5.0)), CancellationToken.None);

        Assert.True(Norm(prox) < 0.5 * Norm(plain), $"prox {Norm(prox)} vs plain {Norm(plain)}");
    }

    [Fact]
    public async Task An_unknown_optimizer_lists_the_allowed_ones()
    {
        var e = await Assert.ThrowsAsync<AppConfigurationException>(() => Cleveland.FitAsync(ParameterSet.Empty, FitConfig(("optimizer", "rmsprop")), CancellationToken.None));

        Assert.Equal("fit config 'optimizer' is 'rmsprop'; allowed: sgd, adam", e.Message);
    }

    [Fact]
    public async Task Parameters_of_the_wrong_shape_are_refused_with_both_shapes()
    {
        var wrong = new LogisticRegression(12).GetParameters();

        var e = await Assert.ThrowsAsync<ArgumentException>(() => Cleveland.EvaluateAsync(wrong, Config.Empty, CancellationToken.None));

        Assert.Contains("expected linear.weight float32[1,13], got linear.weight float32[1,12]", e.Message);
    }

    [Fact]
    public async Task Switzerland_trains_although_its_training_split_is_all_positive()
    {
        var swiss = Apps["switzerland"];
        Assert.Equal(swiss.Data.Train.Count, swiss.Data.Train.PositiveCount);

        var fit = await swiss.FitAsync(await InitialAsync(), FitConfig(), CancellationToken.None);

        Assert.Null(fit.Parameters.FindNonFinite());
        Assert.Equal(1.0, fit.Metrics["train_accuracy"].AsDouble());
    }

    [Fact]
    public async Task Evaluate_reports_test_loss_accuracy_and_auc_over_the_test_split()
    {
        var fit = await Cleveland.FitAsync(await InitialAsync(), FitConfig(), CancellationToken.None);

        var e = await Cleveland.EvaluateAsync(fit.Parameters, Plan.EvaluateConfig(1), CancellationToken.None);

        Assert.Equal(104, e.Examples);
        Assert.InRange(e.Loss, 0.1, 1.0);
        Assert.InRange(e.Metrics["accuracy"].AsDouble(), 0.6, 1.0);
        Assert.InRange(e.Metrics["auc"].AsDouble(), 0.7, 1.0);
    }

    [Fact]
    public async Task Evaluate_reports_the_confusion_matrix_precision_recall_f1_pr_auc_and_score_histograms()
    {
        var fit = await Cleveland.FitAsync(await InitialAsync(), FitConfig(), CancellationToken.None);

        var m = (await Cleveland.EvaluateAsync(fit.Parameters, Plan.EvaluateConfig(1), CancellationToken.None)).Metrics;

        var c = Cohort.Evaluation.ConfusionCounts.FromMetrics(m)!.Value;
        Assert.Equal(104, c.Total);
        Assert.Equal(Cleveland.Data.Test.PositiveCount, c.TruePositives + c.FalseNegatives);
        Assert.Equal(c.Accuracy, m["accuracy"].AsDouble(), 12);
        Assert.Equal(c.Precision, m["precision"].AsDouble(), 12);
        Assert.Equal(c.Recall, m["recall"].AsDouble(), 12);
        Assert.Equal(c.F1, m["f1"].AsDouble(), 12);
        Assert.Equal(c.BalancedAccuracy, m["balanced_accuracy"].AsDouble(), 12);
        Assert.Equal(0.5, m["threshold"].AsDouble());
        Assert.InRange(m["pr_auc"].AsDouble(), 0.6, 1.0);
        var h = Cohort.Evaluation.ScoreHistogram.FromMetrics(m)!;
        Assert.Equal(c.TruePositives + c.FalseNegatives, h.Positives);
        Assert.InRange(Math.Abs(h.RocAuc() - m["auc"].AsDouble()), 0, h.RocAucTieError() + 1e-12);
    }

    [Fact]
    public async Task Mlp_initial_parameters_are_seeded_by_the_config_seed()
    {
        var settings = Plan.App.Settings.With([KeyValuePair.Create("model", Scalar.Of("mlp")), KeyValuePair.Create("hidden", Scalar.Of("8"))]);
        var app = new TabularAppFactory().CreateTabular(new ClientAppContext("run", "va", settings, HeartDiseasePlan.Context(Plan, "va").NodeSettings));
        Config Seed(long s) => new([KeyValuePair.Create("seed", Scalar.Of(s))]);

        var a = await app.GetParametersAsync(Seed(1), CancellationToken.None);
        var b = await app.GetParametersAsync(Seed(1), CancellationToken.None);
        var c = await app.GetParametersAsync(Seed(2), CancellationToken.None);

        Assert.Equal(a["hidden1.weight"].Data, b["hidden1.weight"].Data);
        Assert.NotEqual(a["hidden1.weight"].Data, c["hidden1.weight"].Data);
        var fit = await app.FitAsync(a, FitConfig(("optimizer", "adam"), ("learning_rate", 0.01)), CancellationToken.None);
        Assert.Null(fit.Parameters.FindNonFinite());
    }
}
