using Cohort.Apps;

namespace Cohort.Simulation.Partitioners;

/// <summary>
/// McMahan et al.'s pathological non-IID split: sort the examples by label, cut them into shards of
/// <c>shard_size</c>, and give each client <c>shards_per_client</c> shards at random (MNIST: 200 shards
/// of 300, 2 per client, so most clients see two digits). Examples beyond clients × k × size stay unused.
/// </summary>
internal sealed class ShardsPartitioner(int shardsPerClient, int? shardSize) : IPartitioner
{
    /// <summary>The plan name.</summary>
    public const string PartitionerName = "shards";

    /// <summary>Creates it from plan parameters: <c>shards_per_client</c> (default 2), <c>shard_size</c> (default: all examples shared out).</summary>
    public static IPartitioner Create(PartitionerParameters p)
    {
        p.RejectUnknown(["shards_per_client", "shard_size"]);
        return new ShardsPartitioner(p.Int("shards_per_client", 2, 1), p.Has("shard_size") ? p.Int("shard_size", 1, 1) : null);
    }

    /// <inheritdoc />
    public string Name => PartitionerName;

    /// <inheritdoc />
    public PartitionSet Split(ISimulationDataset data, int clients, Random random)
    {
        var byClass = Partitioning.ByClass(data, Name);
        long shards = (long)clients * shardsPerClient;
        int size = shardSize ?? (int)(data.Count / shards);
        if (size < 1 || shards * size > data.Count)
            throw new PartitionerException(shardSize is null ? "shards_per_client" : "shard_size",
                $"partitioner 'shards': {clients} clients × {shardsPerClient} shards × {size} examples is more than the {data.Count} examples (shard_size at most {data.Count / shards})");
        // Sorted by label, ties in index order: the classic split is reproducible from the seed alone.
        var sorted = new int[data.Count];
        int at = 0;
        foreach (var members in byClass)
        {
            members.CopyTo(sorted, at);
            at += members.Count;
        }
        var shardOrder = Partitioning.Shuffled((int)shards, random);
        var lists = new List<int>[clients];
        for (int c = 0; c < clients; c++)
        {
            lists[c] = new List<int>(shardsPerClient * size);
            for (int j = 0; j < shardsPerClient; j++)
                lists[c].AddRange(new ArraySegment<int>(sorted, shardOrder[c * shardsPerClient + j] * size, size));
        }
        return PartitionSet.FromLists(lists);
    }
}
