using Cohort.Records;

namespace Cohort.Plans;

/// <summary>
/// The plan's <c>simulation</c> section: how <c>cohort simulate</c> runs the plan's app as virtual
/// clients over partitions of one data set. Ignored by a deployed run.
/// </summary>
public sealed record SimulationSpec
{
    /// <summary>Number of virtual clients (the plan key <c>clients</c>).</summary>
    public required int Clients { get; init; }

    /// <summary>Virtual clients that run at the same time.</summary>
    public int Workers { get; init; } = 2;

    /// <summary>How the data set is shared out among the clients.</summary>
    public PartitionerSpec Partitioner { get; init; } = new("iid", Config.Empty, new Dictionary<string, PlanPosition>());

    /// <summary>App-specific description of the data (a CSV path, the MNIST folder, synthetic sizes), flattened; a single value is key <c>path</c>.</summary>
    public Config Data { get; init; } = Config.Empty;

    /// <summary>Print each client's label histogram before the first round.</summary>
    public bool Histogram { get; init; }

    /// <summary>Where the section's keys sit in the plan file (dotted key → position), for errors found after parsing.</summary>
    public IReadOnlyDictionary<string, PlanPosition> Positions { get; init; } = new Dictionary<string, PlanPosition>();
}

/// <summary>A partitioner named in a plan and its parameters.</summary>
/// <param name="Name">Registered partitioner name ("dirichlet").</param>
/// <param name="Parameters">Its parameters, flattened (lists comma-joined, nested keys dotted).</param>
/// <param name="Positions">Where each parameter sits in the plan file.</param>
public sealed record PartitionerSpec(string Name, Config Parameters, IReadOnlyDictionary<string, PlanPosition> Positions);

/// <summary>A 1-based line and column in a plan file.</summary>
public readonly record struct PlanPosition(long Line, long Column);
