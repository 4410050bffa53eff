namespace Cohort.Apps;

/// <summary>
/// The share of a <see cref="ISimulationDataset"/> one client owns: a set of example indices into the
/// shared data set, never a copy of the data.
/// </summary>
/// <param name="Client">0-based client number.</param>
/// <param name="Clients">Number of clients the data set is shared among.</param>
/// <param name="Dataset">The shared data set.</param>
/// <param name="Indices">The client's example indices, ascending.</param>
public sealed record DataPartition(int Client, int Clients, ISimulationDataset Dataset, ReadOnlyMemory<int> Indices);
