using Cohort.Apps;

namespace Cohort.Simulation.Partitioners;

/// <summary>
/// Independent and identically distributed: the examples shuffled and cut into near-equal parts (sizes
/// differ by at most one). With fewer examples than clients every client holds one example: the examples
/// are dealt in passes, each pass a fresh shuffle of the whole table, so an example is held by
/// ⌊clients/examples⌋ or ⌈clients/examples⌉ clients (drawn with replacement across passes, without
/// within one). A million clients can so share a small table.
/// </summary>
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
        if (data.Count == 0)
            throw new PartitionerException(null, $"partitioner 'iid': the data set has no examples to give {clients} clients");
        if (data.Count < clients) return OneEach(data.Count, clients, random);
        var order = Partitioning.Shuffled(data.Count, random);
        var sizes = new int[clients];
        for (int c = 0; c < clients; c++) sizes[c] = data.Count / clients + (c < data.Count % clients ? 1 : 0);
        return PartitionSet.FromSizes(order, sizes);
    }

    /// <summary>One example per client, dealt from successive shuffles of all <paramref name="examples"/>.</summary>
    private static PartitionSet OneEach(int examples, int clients, Random random)
    {
        var order = new int[clients];
        for (int at = 0; at < clients; at += examples)
        {
            var pass = Partitioning.Shuffled(examples, random);
            pass.AsSpan(0, Math.Min(examples, clients - at)).CopyTo(order.AsSpan(at));
        }
        var sizes = new int[clients];
        Array.Fill(sizes, 1);
        return PartitionSet.FromSizes(order, sizes);
    }
}
