using Cohort.Apps;

namespace Cohort.Simulation.Partitioners;

/// <summary>Independent and identically distributed: the examples shuffled and cut into near-equal parts (sizes differ by at most one).</summary>
internal sealed class IidPartitioner : IPartitioner
{
    /// <summary>The plan name.</summary>
    public const string PartitionerName = "iid";

    /// <summary>Creates it from plan parameters (it takes none).</summary>
    public static IPartitioner Create(PartitionerParameters parameters)
    {
        parameters.RejectUnknown([]);
        return new IidPartitioner();
    }

    /// <inheritdoc />
    public string Name => PartitionerName;

    /// <inheritdoc />
    public PartitionSet Split(ISimulationDataset data, int clients, Random random)
    {
        if (data.Count < clients)
            throw new PartitionerException(null, $"partitioner 'iid': {data.Count} examples cannot give each of {clients} clients at least one");
        var order = Partitioning.Shuffled(data.Count, random);
        var sizes = new int[clients];
        for (int c = 0; c < clients; c++) sizes[c] = data.Count / clients + (c < data.Count % clients ? 1 : 0);
        return PartitionSet.FromSizes(order, sizes);
    }
}
