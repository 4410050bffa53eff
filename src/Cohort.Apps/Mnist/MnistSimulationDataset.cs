using Cohort.Learning.Data.Mnist;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps.Mnist;

/// <summary>
/// MNIST for a simulation: the training images the settings select are shared out among the clients
/// by index; the selected test images (all 10,000 by default) are the central test set and each
/// client's own test set. Data: the IDX folder (<c>data: path</c>).
/// </summary>
internal sealed class MnistSimulationDataset : ISimulationDataset
{
    private readonly int[] _trainIndex;
    private readonly int[] _labels;
    private readonly int[] _testIndex;
    private readonly string? _description;

    /// <summary>Creates the data set over loaded images and the settings' selection.</summary>
    public MnistSimulationDataset(MnistData data, MnistSettings settings)
    {
        Data = data;
        Settings = settings;
        _trainIndex = settings.Data.TrainIndices(data.Train.Labels);
        _labels = new int[_trainIndex.Length];
        for (int i = 0; i < _labels.Length; i++) _labels[i] = data.Train.Labels[_trainIndex[i]];
        _testIndex = settings.Data.TestIndices(data.Test.Count);
    }

    private MnistSimulationDataset(MnistData data, MnistSettings settings, int[] trainIndex, int[] evaluationIndex, string description)
    {
        Data = data;
        Settings = settings;
        _trainIndex = trainIndex;
        _labels = new int[trainIndex.Length];
        for (int i = 0; i < _labels.Length; i++) _labels[i] = data.Train.Labels[trainIndex[i]];
        _testIndex = evaluationIndex;
        _description = description;
    }

    /// <summary>The loaded images.</summary>
    public MnistData Data { get; }

    /// <summary>The app settings.</summary>
    public MnistSettings Settings { get; }

    /// <inheritdoc />
    public string Description => _description ?? $"MNIST: {_trainIndex.Length:N0} training / {_testIndex.Length:N0} test images";

    /// <summary>True when evaluations score held-out training images (a validation split) rather than test images.</summary>
    public bool IsValidationSplit => _description is not null;

    /// <summary>The training image (index into the training set) behind each example the partitioners share out.</summary>
    public ReadOnlySpan<int> TrainImageIndices => _trainIndex;

    /// <summary>
    /// A validation split of this data set: <paramref name="count"/> of its training images, the first
    /// <paramref name="count"/> of a shuffle seeded with <paramref name="seed"/>, become the evaluation set
    /// (central and every client's); the others, in file order, are what the partitioners share out. No
    /// test image is read: evaluations go through <see cref="MnistData.WithTrainingImagesAsTestSet"/>.
    /// </summary>
    public MnistSimulationDataset HoldOutValidation(int count, int seed)
    {
        if (IsValidationSplit) throw new InvalidOperationException("the data set is already a validation split");
        if (count < 1 || count >= _trainIndex.Length)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"a validation split needs 1 to {_trainIndex.Length - 1} of the {_trainIndex.Length} training images");
        var order = (int[])_trainIndex.Clone();
        new Random(seed).Shuffle(order);
        var validation = order[..count];
        Array.Sort(validation);
        var held = new HashSet<int>(validation);
        var rest = _trainIndex.Where(i => !held.Contains(i)).ToArray();
        return new MnistSimulationDataset(Data.WithTrainingImagesAsTestSet(), Settings, rest, validation,
            $"MNIST validation split: {rest.Length:N0} training / {validation.Length:N0} validation images (held out of the training set, seed {seed})");
    }

    /// <inheritdoc />
    public int Count => _trainIndex.Length;

    /// <inheritdoc />
    public int ClassCount => Data.Train.Classes;

    /// <inheritdoc />
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>The test images evaluations use (indices into the test set).</summary>
    public int[] TestIndices => _testIndex;

    /// <inheritdoc />
    public DataGroups GroupsBy(string by) => throw new ArgumentException("MNIST has no natural groups (no columns or per-writer files here); use iid, dirichlet, shards, classes or size-skewed");

    /// <inheritdoc />
    public Task<EvaluateResult?> EvaluateCentralAsync(ParameterSet global, Config config, CancellationToken ct) =>
        Task.Run<EvaluateResult?>(() => new MnistApp(Data, [], Settings, "central", _testIndex).Evaluate(global), ct);

    /// <summary>A client over its partition (training image indices mapped from the partition, test set shared).</summary>
    public MnistApp CreateClient(DataPartition partition, string nodeName)
    {
        var span = partition.Indices.Span;
        var train = new int[span.Length];
        for (int i = 0; i < train.Length; i++) train[i] = _trainIndex[span[i]];
        return new MnistApp(Data, train, Settings, nodeName, _testIndex);
    }

    /// <summary>Loads the folder named by <c>simulation.data</c> (or the app settings' <c>data</c>).</summary>
    public static MnistSimulationDataset Load(MnistSettings settings, SimulationDataContext context)
    {
        string? folder = null;
        foreach (var (key, value) in context.Data)
        {
            if (key != "path") throw new AppConfigurationException($"simulation.data '{key}' is not known for the mnist app (known: path, the IDX folder)");
            folder = value.ToString();
        }
        folder ??= settings.Data.Folder ?? throw new AppConfigurationException("simulation.data is missing: give the folder holding MNIST's IDX files (e.g. data: ../mnist/data)");
        string full = context.Resolve(folder);
        return new MnistSimulationDataset(MnistData.Shared(full), settings with { Data = settings.Data with { Folder = full } });
    }
}
