using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Learning.Training;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps.Tabular;

/// <summary>
/// Client app for tabular binary classification (logistic regression or an MLP) on one node's file,
/// preprocessed once when the app is created. Each call builds its own model and optimiser, so calls
/// may run concurrently; the work runs on the thread pool so a node's host stays responsive.
/// </summary>
public sealed class TabularApp : IClientApp
{
    /// <summary>Creates the app over already preprocessed data.</summary>
    public TabularApp(TabularSettings settings, TabularSplit data, string nodeName)
    {
        Settings = settings;
        Data = data;
        NodeName = nodeName;
    }

    /// <summary>The app settings.</summary>
    public TabularSettings Settings { get; }

    /// <summary>The node's train and test splits.</summary>
    public TabularSplit Data { get; }

    /// <summary>The node this app runs on.</summary>
    public string NodeName { get; }

    /// <summary>
    /// A freshly initialised model: zeros for logistic regression, a seeded PyTorch-style uniform
    /// init for the MLP (config key <c>seed</c>, default 0), identical on every node for the same seed.
    /// </summary>
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct)
    {
        var model = Settings.CreateModel(Data.Train.FeatureCount);
        long seed = new SettingsReader(config, "config").Int("seed", 0);
        model.Initialize(unchecked((int)seed));
        return Task.FromResult(model.GetParameters());
    }

    /// <summary>Trains from <paramref name="parameters"/> on the training split; reports train_loss and train_accuracy of the result.</summary>
    public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        var fit = LocalFitConfig.FromConfig(config, NodeName);
        return Task.Run(() => Fit(parameters, fit, ct), ct);
    }

    /// <summary>Evaluates on the test split: loss, and metrics accuracy and (when both classes occur) auc.</summary>
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
        Task.Run(() => Evaluate(parameters), ct);

    private FitResult Fit(ParameterSet parameters, LocalFitConfig fit, CancellationToken ct)
    {
        var model = Settings.CreateModel(Data.Train.FeatureCount);
        model.SetParameters(parameters);
        float[] anchor = fit.Training.ProximalMu > 0 ? model.Weights.ToArray() : [];
        var optimizer = fit.CreateOptimizer(model.Weights.Length);
        LocalTrainer.Train(model, optimizer, Data.Train, fit.Training, anchor, ct);

        var result = model.GetParameters();
        if (result.FindNonFinite() is { } bad)
            throw new InvalidOperationException($"node '{NodeName}': training diverged ({bad}); lower learning_rate");
        var train = BinaryEvaluation.Of(model, Data.Train);
        var metrics = new Metrics([
            KeyValuePair.Create("train_loss", Scalar.Of(train.Loss)),
            KeyValuePair.Create("train_accuracy", Scalar.Of(train.Accuracy)),
        ]);
        return new FitResult(result, Data.Train.Count, metrics);
    }

    private EvaluateResult Evaluate(ParameterSet parameters)
    {
        // An empty test split reports nothing rather than NaN, which would poison weighted averages.
        if (Data.Test.Count == 0) return new EvaluateResult(0, 0, Metrics.Empty);
        var model = Settings.CreateModel(Data.Test.FeatureCount);
        model.SetParameters(parameters);
        var e = BinaryEvaluation.Of(model, Data.Test);
        var metrics = new List<KeyValuePair<string, Scalar>> { KeyValuePair.Create("accuracy", Scalar.Of(e.Accuracy)) };
        // AUC is undefined on a single-class test split (possible at Switzerland); omit it rather than report NaN.
        if (double.IsFinite(e.Auc)) metrics.Add(KeyValuePair.Create("auc", Scalar.Of(e.Auc)));
        return new EvaluateResult(e.Loss, e.Examples, new Metrics(metrics));
    }
}
