namespace Cohort.Simulation.Partitioners;

/// <summary>A partitioner parameter (or the data it meets) that cannot work; <see cref="Key"/> names the parameter, null for the partitioner as a whole.</summary>
public sealed class PartitionerException(string? key, string message) : Exception(message)
{
    /// <summary>The parameter at fault (e.g. "alpha"), or null.</summary>
    public string? Key { get; } = key;
}
