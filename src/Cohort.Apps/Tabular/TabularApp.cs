using System.Numerics.Tensors;
using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Learning.Training;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Apps.Tabular;

/// <summary>
/// Client app for tabular binary classification (logistic regression or an MLP) on one node's file,
/// preprocessed once when the app is created. Each call builds its own model and optimiser, so calls
/// may run concurrently; the work runs on the thread pool so a node's host stays responsive.
/// </summary>
internal sealed class TabularApp : IClientApp, IStatefulClientApp
{
    private readonly Lock _gate = new();
    // SCAFFOLD's local control variate after each round this node trained (the latest two): a round trained
    // again (its result lost in a server crash, or the task delivered twice) starts from the variate of the
    // rounds before it, not from its own first attempt's, so it gives the same result.
    private readonly SortedList<long, float[]> _controls = [];

    /// <summary>Creates the app over already preprocessed data.</summary>
    public TabularApp(TabularSettings settings, TabularSplit data, string nodeName)
    {
        Settings = settings;
        Data = data;
        NodeName = nodeName;
        var imbalance = settings.Imbalance;
        var train = data.Train;
        Validation = null;
        if (imbalance.NeedsValidation && train.Count >= 4)
        {
            // Held out from the site's own training rows, stratified and seeded like the train/test split,
            // so the threshold is tuned on rows neither trained on nor tested on.
            var classes = new int[train.Count];
            for (int i = 0; i < classes.Length; i++) classes[i] = train.Labels[i] > 0.5f ? 1 : 0;
            var split = TrainTestSplit.Create(classes, 1 - imbalance.ValidationFraction, settings.Preprocess.SplitSeed + 1, settings.Preprocess.Stratify);
            if (split.Train.Length > 0 && split.Test.Length > 0)
            {
                Validation = train.Select(split.Test);
                train = train.Select(split.Train);
            }
        }
        TrainExamples = train.Count;
        TrainingRows = imbalance.Resample(train, unchecked((int)settings.Preprocess.SplitSeed));
        Loss = imbalance.LossFor(TrainingRows, settings.Statistics);
    }

    /// <summary>The app settings.</summary>
    public TabularSettings Settings { get; }

    /// <summary>The node's train and test splits.</summary>
    public TabularSplit Data { get; }

    /// <summary>The node this app runs on.</summary>
    public string NodeName { get; }

    /// <summary>The rows training steps draw from: the training split less any validation rows, oversampled when asked.</summary>
    public TabularDataset TrainingRows { get; }

    /// <summary>Real (not synthetic) training rows: the example count FedAvg weighs this site by.</summary>
    public int TrainExamples { get; }

    /// <summary>Rows held out from training to choose the decision threshold, when it is chosen.</summary>
    public TabularDataset? Validation { get; }

    /// <summary>The training loss (class weights, focal term).</summary>
    public Learning.Models.BinaryLoss Loss { get; }

    /// <summary>
    /// A freshly initialised model: zeros for logistic regression, a seeded PyTorch-style uniform
    /// init for the MLP (config key <c>seed</c>, default 0), identical on every node for the same seed.
    /// </summary>
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct)
    {
        var model = Settings.CreateModel(TrainingRows.FeatureCount);
        long seed = new SettingsReader(config, "config").Int("seed", 0);
        model.Initialize(unchecked((int)seed));
        return Task.FromResult(model.GetParameters());
    }

    /// <summary>Trains from <paramref name="parameters"/> on the training split; reports train_loss and train_accuracy of the result.</summary>
    public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        var fit = LocalFitConfig.FromConfig(config, NodeName);
        // Tasks carry their round; an app driven without one counts its own.
        long? round = config.ContainsKey("round") ? config.GetInt("round", 0) : null;
        return Task.Run(() => Fit(parameters, fit, round, ct), ct);
    }

    /// <summary>Evaluates on the test split: loss and the metrics of <see cref="TabularEvaluation"/>.</summary>
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
        Task.Run(() => Evaluate(parameters), ct);

    private FitResult Fit(ParameterSet parameters, LocalFitConfig fit, long? taskRound, CancellationToken ct)
    {
        long round = 0;
        var model = Settings.CreateModel(Data.Train.FeatureCount);
        bool scaffold = ScaffoldTensors.IsScaffoldTask(parameters);
        float[] serverControl = [], localControl = [], correction = [];
        if (scaffold)
        {
            var (weights, control) = ScaffoldTensors.Split(parameters);
            model.SetParameters(weights);
            serverControl = new float[model.Weights.Length];
            model.Layout.Load(control, serverControl, $"{model.Description} control variate");
            lock (_gate)
            {
                round = taskRound ?? (_controls.Count == 0 ? 0 : _controls.Keys[^1] + 1);
                localControl = ControlBefore(round) is { } c && c.Length == serverControl.Length ? c : new float[serverControl.Length];
            }
            correction = new float[serverControl.Length];
            TensorPrimitives.Subtract(serverControl, localControl, correction);
        }
        else
        {
            model.SetParameters(parameters);
        }
        // The loss at the global model, before any local step: q-FedAvg's F_k.
        double initialLoss = BinaryEvaluation.Of(model, TrainingRows).Loss;
        float[] start = model.Weights.ToArray();
        float[] anchor = fit.Training.ProximalMu > 0 ? start : [];
        var optimizer = fit.CreateOptimizer(model.Weights.Length);
        var trained = LocalTrainer.Train(model, optimizer, TrainingRows, fit.Training with { Loss = Loss }, anchor, correction, ct);

        var result = model.GetParameters();
        if (result.FindNonFinite() is { } bad)
            throw new InvalidOperationException($"node '{NodeName}': training diverged ({bad}); lower learning_rate");
        if (scaffold) result = ScaffoldResult(model, result, start, serverControl, localControl, trained.Steps, fit.LearningRate, round);
        var train = BinaryEvaluation.Of(model, TrainingRows);
        var metrics = new Metrics([
            KeyValuePair.Create("train_loss", Scalar.Of(train.Loss)),
            KeyValuePair.Create("train_accuracy", Scalar.Of(train.Accuracy)),
            KeyValuePair.Create("initial_train_loss", Scalar.Of(initialLoss)),
        ]);
        return new FitResult(result, TrainExamples, metrics);
    }

    /// <summary>
    /// SCAFFOLD option II: cᵢ⁺ = cᵢ − c + (x − y)/(K·η); keeps cᵢ⁺ for the next round and returns the
    /// model followed by Δcᵢ = cᵢ⁺ − cᵢ. With momentum or Adam the K·η scaling is the paper's SGD
    /// approximation.
    /// </summary>
    private ParameterSet ScaffoldResult(Learning.Models.IModel model, ParameterSet trained, float[] start, float[] serverControl, float[] localControl, int steps, double learningRate, long round)
    {
        var delta = new float[start.Length];
        if (steps > 0)
        {
            // Δcᵢ = (x − y)/(K·η) − c
            TensorPrimitives.Subtract(start, model.Weights, delta);
            TensorPrimitives.Multiply(delta, (float)(1.0 / (steps * learningRate)), delta);
            TensorPrimitives.Subtract(delta, serverControl, delta);
        }
        var next = new float[start.Length];
        TensorPrimitives.Add(localControl, delta, next);
        lock (_gate)
        {
            _controls[round] = next;
            // Older rounds are never trained again once a later one has been: keep the newest two.
            while (_controls.Count > 2) _controls.RemoveAt(0);
        }
        return ScaffoldTensors.Result(trained, model.Layout.ToParameterSet(delta));
    }

    /// <summary>The control variates kept (round to variate); the arrays are never changed once kept.</summary>
    public object? SaveState()
    {
        lock (_gate) return _controls.Count == 0 ? null : new SortedList<long, float[]>(_controls);
    }

    /// <summary>Takes up the control variates an earlier app of this client kept.</summary>
    public void RestoreState(object state)
    {
        var controls = (SortedList<long, float[]>)state;
        lock (_gate)
        {
            _controls.Clear();
            foreach (var (round, control) in controls) _controls[round] = control;
        }
    }

    // The variate of the latest round before round (null: none yet); called under the gate.
    private float[]? ControlBefore(long round)
    {
        for (int i = _controls.Count - 1; i >= 0; i--)
            if (_controls.Keys[i] < round) return _controls.Values[i];
        return null;
    }

    private EvaluateResult Evaluate(ParameterSet parameters)
    {
        var model = Settings.CreateModel(Data.Test.FeatureCount);
        model.SetParameters(parameters);
        return TabularEvaluation.Evaluate(model, Data.Test, ThresholdFor(model));
    }

    /// <summary>The decision threshold for <paramref name="model"/>: fixed, or chosen on the validation rows.</summary>
    public double ThresholdFor(Learning.Models.IModel model)
    {
        var rule = Settings.Imbalance.Threshold;
        if (rule.Fixed is { } f) return f;
        if (Validation is not { Count: > 0 } v) return BinaryMetrics.Threshold;
        var p = BinaryEvaluation.LogitsOf(model, v);
        BinaryMetrics.Sigmoid(p, p);
        return rule.Choose(p, v.Labels);
    }
}
