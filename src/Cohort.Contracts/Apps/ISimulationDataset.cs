using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps;

/// <summary>
/// A data set a simulation loads once and shares among its virtual clients: partitioners read its
/// labels (and groups), and each client sees it only through its <see cref="DataPartition"/>.
/// </summary>
public interface ISimulationDataset
{
    /// <summary>One line for logs ("MNIST: 60,000 training / 10,000 test images").</summary>
    string Description { get; }

    /// <summary>Number of examples the partitioners share out.</summary>
    int Count { get; }

    /// <summary>Number of classes; 0 when the data set has no class labels.</summary>
    int ClassCount { get; }

    /// <summary>The class of each example (0 … <see cref="ClassCount"/> − 1); empty when unlabelled.</summary>
    ReadOnlySpan<int> Labels { get; }

    /// <summary>
    /// The group of each example by <paramref name="by"/> (a column name, or "file" for the file it came
    /// from), for natural partitioning; throws <see cref="ArgumentException"/> listing what is allowed.
    /// </summary>
    DataGroups GroupsBy(string by);

    /// <summary>Evaluates a global model on the data set's held-out test examples, or returns null when it has none.</summary>
    Task<EvaluateResult?> EvaluateCentralAsync(ParameterSet global, Config config, CancellationToken ct);
}

/// <summary>Examples grouped by a natural key: the group names and each example's group index.</summary>
/// <param name="Names">Group names, in the order clients take them.</param>
/// <param name="GroupOf">For each example, its index into <paramref name="Names"/>.</param>
public sealed record DataGroups(IReadOnlyList<string> Names, int[] GroupOf);
