using Cohort.Apps;

namespace Cohort.Simulation.Partitioners;

/// <summary>
/// Shares a simulation's data set out among its clients. Built-ins are registered by name in
/// <see cref="PartitionerRegistry"/>; user code registers its own the same way.
/// </summary>
public interface IPartitioner
{
    /// <summary>Name a plan uses ("dirichlet").</summary>
    string Name { get; }

    /// <summary>
    /// Splits <paramref name="data"/> among <paramref name="clients"/> clients, drawing only from
    /// <paramref name="random"/> so that the same seed gives the same partitions; throws
    /// <see cref="PartitionerException"/> when the data or the client count does not fit.
    /// </summary>
    PartitionSet Split(ISimulationDataset data, int clients, Random random);
}
