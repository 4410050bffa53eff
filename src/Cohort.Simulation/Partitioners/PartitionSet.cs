namespace Cohort.Simulation.Partitioners;

/// <summary>
/// Every client's example indices in one flat array with per-client offsets, so an idle virtual client
/// costs its indices and one offset, not a list object or a copy of its data.
/// </summary>
public sealed class PartitionSet
{
    private readonly int[] _indices;
    private readonly int[] _offsets;

    /// <summary>Wraps client <c>c</c>'s indices <c>indices[offsets[c] .. offsets[c+1])</c>; each client's run must be ascending.</summary>
    public PartitionSet(int[] indices, int[] offsets, IReadOnlyList<string>? names = null)
    {
        if (offsets.Length < 2 || offsets[0] != 0 || offsets[^1] != indices.Length)
            throw new ArgumentException("offsets must start at 0, end at the index count and describe at least one client");
        for (int c = 0; c + 1 < offsets.Length; c++)
        {
            if (offsets[c + 1] < offsets[c]) throw new ArgumentException($"offsets decrease at client {c}");
        }
        if (names is not null && names.Count != offsets.Length - 1)
            throw new ArgumentException($"{names.Count} client names for {offsets.Length - 1} clients");
        _indices = indices;
        _offsets = offsets;
        Names = names;
    }

    /// <summary>Number of clients.</summary>
    public int Clients => _offsets.Length - 1;

    /// <summary>Client names the partitioner chose (natural groups, named classes), or null for numbered clients.</summary>
    public IReadOnlyList<string>? Names { get; }

    /// <summary>Total indices over all clients (more than the data set when partitions overlap).</summary>
    public int TotalIndices => _indices.Length;

    /// <summary>Client <paramref name="client"/>'s indices, ascending.</summary>
    public ReadOnlyMemory<int> Of(int client) => _indices.AsMemory(_offsets[client], _offsets[client + 1] - _offsets[client]);

    /// <summary>Number of examples client <paramref name="client"/> holds.</summary>
    public int SizeOf(int client) => _offsets[client + 1] - _offsets[client];

    /// <summary>Approximate bytes this set holds (indices and offsets).</summary>
    public long ByteCount => 4L * (_indices.Length + _offsets.Length);

    /// <summary>Builds a set from one index list per client (each sorted here).</summary>
    public static PartitionSet FromLists(IReadOnlyList<List<int>> clients, IReadOnlyList<string>? names = null)
    {
        var offsets = new int[clients.Count + 1];
        for (int c = 0; c < clients.Count; c++) offsets[c + 1] = checked(offsets[c] + clients[c].Count);
        var indices = new int[offsets[^1]];
        for (int c = 0; c < clients.Count; c++)
        {
            var span = indices.AsSpan(offsets[c], clients[c].Count);
            clients[c].CopyTo(span);
            span.Sort();
        }
        return new PartitionSet(indices, offsets, names);
    }

    /// <summary>Builds a set from client sizes over <paramref name="order"/>: client c takes the next <c>sizes[c]</c> entries.</summary>
    public static PartitionSet FromSizes(int[] order, IReadOnlyList<int> sizes, IReadOnlyList<string>? names = null)
    {
        var offsets = new int[sizes.Count + 1];
        for (int c = 0; c < sizes.Count; c++) offsets[c + 1] = checked(offsets[c] + sizes[c]);
        if (offsets[^1] > order.Length) throw new ArgumentException($"sizes add up to {offsets[^1]}, more than the {order.Length} examples");
        var indices = order.AsSpan(0, offsets[^1]).ToArray();
        for (int c = 0; c < sizes.Count; c++) indices.AsSpan(offsets[c], sizes[c]).Sort();
        return new PartitionSet(indices, offsets, names);
    }
}
