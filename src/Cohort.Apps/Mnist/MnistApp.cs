using Cohort.Learning.Data.Mnist;
using Cohort.Learning.Training;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps.Mnist;

/// <summary>
/// Client app that trains the FedAvg paper's 2NN or CNN on a subset of MNIST. The subset is an index
/// list into a shared, already loaded <see cref="MnistData"/>, so a simulation can hand each virtual
/// client its partition without copying images, and creating a client costs next to nothing.
/// Networks come from a process-wide pool; calls may run concurrently.
/// </summary>
internal sealed class MnistApp : IClientApp
{
    private readonly int[] _train;
    private readonly int[] _test;

    /// <summary>
    /// Creates a client over <paramref name="data"/> that trains on <paramref name="trainIndices"/>
    /// (indices into the training set; null for all of it) and evaluates on
    /// <paramref name="testIndices"/> (indices into the test set; null for the settings' test selection).
    /// The arrays are kept, not copied.
    /// </summary>
    public MnistApp(MnistData data, int[]? trainIndices, MnistSettings? settings = null, string nodeName = "local", int[]? testIndices = null)
    {
        Data = data;
        Settings = settings ?? MnistSettings.Default;
        NodeName = nodeName;
        _train = trainIndices ?? Settings.Data.TrainIndices(data.Train.Labels);
        _test = testIndices ?? Settings.Data.TestIndices(data.Test.Count);
        foreach (int i in _train)
            if ((uint)i >= (uint)data.Train.Count) throw new ArgumentOutOfRangeException(nameof(trainIndices), i, $"node '{nodeName}': training index outside 0..{data.Train.Count - 1}");
        foreach (int i in _test)
            if ((uint)i >= (uint)data.Test.Count) throw new ArgumentOutOfRangeException(nameof(testIndices), i, $"node '{nodeName}': test index outside 0..{data.Test.Count - 1}");
    }

    /// <summary>The shared data set.</summary>
    public MnistData Data { get; }

    /// <summary>The app settings.</summary>
    public MnistSettings Settings { get; }

    /// <summary>The node (or virtual client) this app serves.</summary>
    public string NodeName { get; }

    /// <summary>The training examples this client uses (indices into the training set).</summary>
    public ReadOnlySpan<int> TrainIndices => _train;

    /// <summary>The test examples this client evaluates on (indices into the test set).</summary>
    public ReadOnlySpan<int> TestIndices => _test;

    /// <summary>A freshly initialised network (config key <c>seed</c>, default 0): identical on every node for one seed.</summary>
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct)
    {
        long seed = new SettingsReader(config, "config").Int("seed", 0);
        var network = NetworkPool.Rent(Settings);
        try
        {
            network.Initialize(unchecked((int)seed), Settings.Init);
            return Task.FromResult(network.GetParameters());
        }
        finally
        {
            NetworkPool.Return(network);
        }
    }

    /// <summary>
    /// Trains from <paramref name="parameters"/> on this client's examples. Config keys: local_epochs
    /// (1) or local_steps, batch_size (10), optimizer sgd|adam (sgd), learning_rate (0.05), momentum,
    /// weight_decay, proximal_mu, seed and round (they seed the batch order). Metrics: train_loss,
    /// train_accuracy (running, over the batches as they were seen) and steps.
    /// </summary>
    public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        var fit = LocalFitConfig.FromConfig(config, NodeName, defaultBatchSize: 10, defaultLearningRate: 0.05);
        return Task.Run(() => Fit(parameters, fit, ct), ct);
    }

    /// <summary>Evaluates on this client's test examples: loss (mean cross-entropy) and metric accuracy.</summary>
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
        Task.Run(() => Evaluate(parameters), ct);

    /// <summary>Trains synchronously (what <see cref="FitAsync"/> runs on the thread pool).</summary>
    public FitResult Fit(ParameterSet parameters, LocalFitConfig fit, CancellationToken ct = default)
    {
        if (_train.Length == 0) throw new InvalidOperationException($"node '{NodeName}': no training examples selected");
        // Said once, in the app's words, rather than as the model's shape against the task's extra tensors.
        if (Strategies.ScaffoldTensors.IsScaffoldTask(parameters))
            throw new NotSupportedException(MnistAppFactory.NoScaffold);
        var network = NetworkPool.Rent(Settings);
        try
        {
            network.SetParameters(parameters);
            float[] anchor = fit.Training.ProximalMu > 0 ? (float[])network.Weights.Clone() : [];
            var optimizer = fit.CreateOptimizer(network.ParameterCount);
            var result = ImageClassifierTrainer.Train(network, optimizer, Data.Train, _train, Settings.Scaling, fit.Training, anchor, ct);
            var trained = network.GetParameters();
            if (trained.FindNonFinite() is { } bad)
                throw new InvalidOperationException($"node '{NodeName}': training diverged ({bad}); lower learning_rate");
            var metrics = new Metrics([
                KeyValuePair.Create("train_loss", Scalar.Of(result.MeanBatchLoss)),
                KeyValuePair.Create("train_accuracy", Scalar.Of(result.RunningAccuracy)),
                KeyValuePair.Create("steps", Scalar.Of((long)result.Steps)),
            ]);
            return new FitResult(trained, _train.Length, metrics);
        }
        finally
        {
            NetworkPool.Return(network);
        }
    }

    /// <summary>Evaluates synchronously (what <see cref="EvaluateAsync"/> runs on the thread pool).</summary>
    public EvaluateResult Evaluate(ParameterSet parameters)
    {
        // No test examples reports nothing rather than NaN, which would poison weighted averages.
        if (_test.Length == 0) return new EvaluateResult(0, 0, Metrics.Empty);
        var network = NetworkPool.Rent(Settings);
        try
        {
            network.SetParameters(parameters);
            var e = ImageClassifierTrainer.Evaluate(network, Data.Test, _test, Settings.Scaling, Settings.EvalBatchSize);
            return new EvaluateResult(e.Loss, e.Examples, new Metrics([KeyValuePair.Create("accuracy", Scalar.Of(e.Accuracy))]));
        }
        finally
        {
            NetworkPool.Return(network);
        }
    }
}
