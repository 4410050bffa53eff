using System.Globalization;
using System.Text;
using Cohort.Engine.Nodes;
using Cohort.Plans;

namespace Cohort.Engine.Runs;

/// <summary>
/// Which nodes a run may use, and why it waits when there are too few. Every executor asks here, so a
/// new rule (a node must hold the plan's dataset, say) goes in <see cref="Eligible"/> and explains
/// itself in <see cref="WaitingReason"/>.
/// </summary>
internal static class NodeSelection
{
    private const int NamesShown = 5;

    /// <summary>
    /// Online nodes with the plan's app that hold the plan's data set (when it names one), narrowed to the
    /// plan's <c>selection.nodes</c> when it names any; sorted.
    /// </summary>
    public static IReadOnlyList<string> Eligible(Plan plan, INodePool pool) => plan.Selection.Allowed(pool.Available(plan.App.Name, plan.Dataset));

    /// <summary>The words a waiting reason starts with.</summary>
    public const string Waiting = "waiting for nodes: ";

    /// <summary>
    /// Why run <paramref name="runId"/> waits, starting with <see cref="Waiting"/>: the <paramref name="wanted"/> nodes it needs (and
    /// the plan's setting that asks for them, <paramref name="wantedName"/>) against how many eligible ones are connected,
    /// which of them are busy in which other runs (they take this run's tasks in turn), and where the other
    /// nodes are (named in <c>selection.nodes</c> but not connected, or running another app).
    /// </summary>
    public static string WaitingReason(string runId, Plan plan, INodePool pool, int wanted, string wantedName = "min_available", IReadOnlyCollection<string>? refused = null) =>
        Waiting + Shortage(runId, plan, pool, wanted, wantedName, refused);

    /// <summary><see cref="WaitingReason"/> without its leading words, for a message that has its own.</summary>
    /// <remarks>Nodes in <paramref name="refused"/> (their sites refused the run) are not counted; the caller says why.</remarks>
    public static string Shortage(string runId, Plan plan, INodePool pool, int wanted, string wantedName = "min_available", IReadOnlyCollection<string>? refused = null)
    {
        var eligible = refused is { Count: > 0 } ? Eligible(plan, pool).Where(n => !refused.Contains(n)).ToArray() : Eligible(plan, pool);
        var eligibleSet = eligible.ToHashSet(StringComparer.Ordinal);
        var census = pool.Census(plan.App.Name);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{wanted} needed ({wantedName}), {eligible.Count} connected with app '{plan.App.Name}'");
        if (plan.Dataset is not null) sb.Append(CultureInfo.InvariantCulture, $" and dataset '{plan.Dataset}'");
        if (plan.Selection.Nodes.Count > 0) sb.Append(" and named in selection.nodes");
        if (plan.Dataset is not null)
        {
            // Nodes with the right app but not the data set: the plan's data set is what they miss.
            var without = plan.Selection.Allowed(pool.Available(plan.App.Name)).Where(n => !eligibleSet.Contains(n)).ToHashSet(StringComparer.Ordinal);
            if (without.Count > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"; {without.Count} connected with app '{plan.App.Name}' but not dataset '{plan.Dataset}' ({Names(without)})");
                // What they hold instead, so a misspelt name in the plan shows at once.
                var held = census.Where(n => without.Contains(n.Name)).SelectMany(n => n.Datasets).Distinct(StringComparer.Ordinal).ToArray();
                if (held.Length > 0) sb.Append(CultureInfo.InvariantCulture, $", holding {Names(held.Select(d => $"'{d}'"))}{Cohort.Records.NearestName.Hint(plan.Dataset, held)}");
            }
        }

        // Eligible nodes working for other runs: this run's tasks queue behind theirs, in turn.
        var busy = census.Where(n => eligibleSet.Contains(n.Name))
            .SelectMany(n => n.BusyRuns.Where(r => r != runId).Distinct(StringComparer.Ordinal).Select(r => (Run: r, Node: n.Name)))
            .GroupBy(x => x.Run, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal);
        foreach (var g in busy) sb.Append(CultureInfo.InvariantCulture, $"; {g.Count()} busy in run {g.Key}");

        var known = census.ToDictionary(n => n.Name, StringComparer.Ordinal);
        if (plan.Selection.Nodes.Count > 0)
        {
            var missing = plan.Selection.Nodes.Where(n => !eligibleSet.Contains(n)).ToArray();
            var otherApp = missing.Where(n => known.TryGetValue(n, out var s) && s.Online).ToArray();
            var offline = missing.Except(otherApp).ToArray();
            if (offline.Length > 0) sb.Append(CultureInfo.InvariantCulture, $"; {offline.Length} named in selection.nodes not connected ({Names(offline)})");
            foreach (var g in otherApp.GroupBy(n => known[n].App, StringComparer.OrdinalIgnoreCase).OrderBy(g => g.Key, StringComparer.Ordinal))
                sb.Append(CultureInfo.InvariantCulture, $"; {g.Count()} named in selection.nodes connected with app '{g.Key}' ({Names(g)})");
        }
        else
        {
            var others = census.Where(n => n.Online && !eligibleSet.Contains(n.Name) && !string.Equals(n.App, plan.App.Name, StringComparison.OrdinalIgnoreCase)).ToArray();
            if (others.Length > 0)
            {
                var byApp = others.GroupBy(n => n.App, StringComparer.OrdinalIgnoreCase).OrderBy(g => g.Key, StringComparer.Ordinal)
                    .Select(g => $"'{g.Key}': {Names(g.Select(n => n.Name))}");
                sb.Append(CultureInfo.InvariantCulture, $"; {others.Length} connected with other apps ({string.Join("; ", byApp)})");
            }
        }
        return sb.ToString();
    }

    private static string Names(IEnumerable<string> names)
    {
        var all = names.Order(StringComparer.Ordinal).ToArray();
        return all.Length <= NamesShown ? string.Join(", ", all) : $"{string.Join(", ", all.Take(NamesShown))} and {all.Length - NamesShown} more";
    }
}
