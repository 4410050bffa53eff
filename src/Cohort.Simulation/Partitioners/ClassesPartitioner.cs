using System.Globalization;
using Cohort.Apps;

namespace Cohort.Simulation.Partitioners;

/// <summary>
/// STADLE-style class skew: each client owns some classes and takes <c>sel_prob</c> of every owned
/// class's examples plus <c>def_prob</c> of every other class's. Clients draw independently, so with
/// <c>def_prob</c> &gt; 0 partitions overlap, as agents that sample one public data set do. Owned
/// classes are given per client (<c>classes: {agent01: [1, 2, 3], …}</c>, which also names the
/// clients) or round-robin (<c>per_client: k</c>).
/// </summary>
internal sealed class ClassesPartitioner : IPartitioner
{
    /// <summary>The plan name.</summary>
    public const string PartitionerName = "classes";

    private readonly IReadOnlyList<(string Name, int[] Classes)>? _explicit;
    private readonly int _perClient;
    private readonly double _selProb;
    private readonly double _defProb;

    /// <summary>Creates the partitioner from explicit class lists (or null and <paramref name="perClient"/> classes each, round-robin).</summary>
    public ClassesPartitioner(IReadOnlyList<(string Name, int[] Classes)>? classes, int perClient, double selProb, double defProb)
    {
        _explicit = classes;
        _perClient = perClient;
        _selProb = selProb;
        _defProb = defProb;
    }

    /// <summary>Creates it from plan parameters: <c>classes.&lt;client&gt;</c> or <c>per_client</c>, <c>sel_prob</c> (1.0), <c>def_prob</c> (0.0).</summary>
    public static IPartitioner Create(PartitionerParameters p)
    {
        p.RejectUnknown(["classes.", "per_client", "sel_prob", "def_prob"]);
        double sel = p.Number("sel_prob", 1.0, v => v >= 0 && v <= 1, "a probability from 0 to 1");
        double def = p.Number("def_prob", 0.0, v => v >= 0 && v <= 1, "a probability from 0 to 1");
        var group = p.Group("classes");
        if (group.Count > 0 && p.Has("per_client"))
            throw p.Error("per_client", "cannot be used together with classes (give each client's classes, or a count per client)");
        if (group.Count == 0)
        {
            if (!p.Has("per_client")) throw new PartitionerException("classes", "partitioner 'classes' needs classes (e.g. classes: {agent01: [1, 2, 3], agent02: [4, 5, 6]}) or per_client (classes per client, assigned round-robin)");
            return new ClassesPartitioner(null, p.Int("per_client", 1, 1), sel, def);
        }
        var lists = new List<(string, int[])>();
        foreach (var (name, key, items) in group)
        {
            if (items.Length == 0) throw p.Error(key, "lists no classes");
            var classes = new int[items.Length];
            for (int i = 0; i < items.Length; i++)
            {
                if (!int.TryParse(items[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out classes[i]) || classes[i] < 0)
                    throw p.Error(key, $"'{items[i]}' is not a class number (classes are integers >= 0)");
            }
            lists.Add((name, classes));
        }
        // Numbered clients sort by number, named ones by name: the order never depends on the YAML map's.
        bool numbered = lists.TrueForAll(l => int.TryParse(l.Item1, out _));
        lists.Sort((a, b) => numbered ? int.Parse(a.Item1, CultureInfo.InvariantCulture).CompareTo(int.Parse(b.Item1, CultureInfo.InvariantCulture)) : string.CompareOrdinal(a.Item1, b.Item1));
        return new ClassesPartitioner(lists, 0, sel, def);
    }

    /// <inheritdoc />
    public string Name => PartitionerName;

    /// <inheritdoc />
    public PartitionSet Split(ISimulationDataset data, int clients, Random random)
    {
        var byClass = Partitioning.ByClass(data, Name);
        int classCount = byClass.Length;
        IReadOnlyList<string>? names = null;
        if (_explicit is not null)
        {
            if (_explicit.Count != clients)
                throw new PartitionerException("classes", $"partitioner 'classes' parameter 'classes': gives classes for {_explicit.Count} clients, but the simulation has {clients} (set simulation.clients: {_explicit.Count})");
            foreach (var (name, classes) in _explicit)
            {
                foreach (int k in classes)
                {
                    if (k >= classCount) throw new PartitionerException($"classes.{name}", $"partitioner 'classes' parameter 'classes.{name}': class {k} does not exist ({data.Description} has classes 0 to {classCount - 1})");
                }
            }
            if (!_explicit.All(e => int.TryParse(e.Name, out _))) names = _explicit.Select(e => e.Name).ToArray();
        }
        else if (_perClient > classCount)
        {
            throw new PartitionerException("per_client", $"partitioner 'classes' parameter 'per_client': {_perClient} is more than the {classCount} classes");
        }

        // One shuffled pool per class; a partial Fisher–Yates pass over it draws a uniform subset in
        // O(taken), so many clients with a small def_prob stay cheap.
        var pools = byClass.Select(m => m.ToArray()).ToArray();
        var own = new bool[classCount];
        var lists = new List<int>[clients];
        for (int c = 0; c < clients; c++)
        {
            Array.Clear(own);
            if (_explicit is not null) foreach (int k in _explicit[c].Classes) own[k] = true;
            else for (int j = 0; j < _perClient; j++) own[(c * _perClient + j) % classCount] = true;
            var list = new List<int>();
            for (int k = 0; k < classCount; k++)
            {
                var pool = pools[k];
                int take = (int)Math.Round((own[k] ? _selProb : _defProb) * pool.Length, MidpointRounding.AwayFromZero);
                for (int i = 0; i < take; i++)
                {
                    int j = i + random.Next(pool.Length - i);
                    (pool[i], pool[j]) = (pool[j], pool[i]);
                    list.Add(pool[i]);
                }
            }
            if (list.Count == 0) throw new PartitionerException(null, $"partitioner 'classes': client {names?[c] ?? (c + 1).ToString(CultureInfo.InvariantCulture)} gets no examples (raise sel_prob or def_prob)");
            lists[c] = list;
        }
        return PartitionSet.FromLists(lists, names);
    }
}
