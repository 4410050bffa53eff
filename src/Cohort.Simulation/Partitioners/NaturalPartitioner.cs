using Cohort.Apps;

namespace Cohort.Simulation.Partitioners;

/// <summary>
/// The data set's own grouping: one client per distinct value of a column (<c>by: hospital</c>) or per
/// source file (<c>by: file</c>), named after it (or by <c>names</c>, in group order). The simulation's
/// client count must equal the number of groups.
/// </summary>
internal sealed class NaturalPartitioner(string by, IReadOnlyList<string>? names = null) : IPartitioner
{
    /// <summary>The plan name.</summary>
    public const string PartitionerName = "natural";

    /// <summary>Creates it from plan parameters: <c>by</c> (required: a column name or "file"), <c>names</c> (the clients' names, in group order; default the groups').</summary>
    public static IPartitioner Create(PartitionerParameters p)
    {
        p.RejectUnknown(["by", "names"]);
        var names = p.Text("names", null)?.Split(',', StringSplitOptions.TrimEntries);
        if (names is not null && (names.Any(n => n.Length == 0) || names.Distinct(StringComparer.Ordinal).Count() != names.Length))
            throw p.Error("names", "must be distinct, non-empty client names");
        return new NaturalPartitioner(p.Text("by", null) ?? throw new PartitionerException("by", "partitioner 'natural' needs 'by': a column whose values name the clients, or \"file\" for one client per data file"), names);
    }

    /// <inheritdoc />
    public string Name => PartitionerName;

    /// <inheritdoc />
    public PartitionSet Split(ISimulationDataset data, int clients, Random random)
    {
        DataGroups groups;
        try
        {
            groups = data.GroupsBy(by);
        }
        catch (ArgumentException e)
        {
            throw new PartitionerException("by", $"partitioner 'natural' parameter 'by': {e.Message}");
        }
        if (groups.Names.Count != clients)
            throw new PartitionerException("by", $"partitioner 'natural' parameter 'by': '{by}' has {groups.Names.Count} groups ({string.Join(", ", groups.Names.Take(10))}{(groups.Names.Count > 10 ? ", …" : "")}), but the simulation has {clients} clients (set simulation.clients: {groups.Names.Count})");
        if (names is not null && names.Count != clients)
            throw new PartitionerException("names", $"partitioner 'natural' parameter 'names': {names.Count} names for the {clients} groups of '{by}' ({string.Join(", ", groups.Names)})");
        var lists = new List<int>[clients];
        for (int c = 0; c < clients; c++) lists[c] = [];
        for (int i = 0; i < groups.GroupOf.Length; i++) lists[groups.GroupOf[i]].Add(i);
        return PartitionSet.FromLists(lists, names ?? groups.Names);
    }
}
