using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>
/// The way back from a place in a plan's text with its <c>--set</c> values applied (text re-emitted without the user's
/// comments and blank lines) to the user's own file: each node of the applied text, matched by its key path to the same
/// node of the original, maps to that node's line and column; a node that a <c>--set</c> wrote (its value, a key it added,
/// a section it created) maps to that <c>--set</c>. Every plan error is placed at a node's start, so each finds its way back.
/// </summary>
internal sealed class PlanPositionMap
{
    private readonly IReadOnlyList<(string Path, string Value)> _sets;
    private readonly SortedDictionary<(long Line, long Column), Origin> _origins = new();

    private PlanPositionMap(IReadOnlyList<(string Path, string Value)> sets) => _sets = sets;

    /// <summary>Where a place in the applied text came from: a line and column of the original, or the <c>--set</c> that wrote it.</summary>
    public readonly record struct Origin(PlanPosition At, (string Path, string Value)? Set);

    /// <summary>
    /// Matches <paramref name="appliedYaml"/> (the plan with <paramref name="sets"/> applied) to <paramref name="originalYaml"/>;
    /// null when either cannot be read as a plan (then no error in it was placed by a node).
    /// </summary>
    public static PlanPositionMap? Of(string originalYaml, string appliedYaml, IReadOnlyList<(string Path, string Value)> sets)
    {
        YamlMappingNode original, applied;
        try
        {
            // Duplicates are collected, not thrown: the first of each stays, as the parser reads it.
            original = PlanYamlLoader.LoadRoot(originalYaml, "plan", new PlanProblems());
            applied = PlanYamlLoader.LoadRoot(appliedYaml, "plan", new PlanProblems());
        }
        catch (PlanException)
        {
            return null;
        }
        var map = new PlanPositionMap(sets);
        map.Walk(applied, original, "", null);
        return map;
    }

    /// <summary>
    /// Where <paramref name="line"/>:<paramref name="column"/> of the applied text came from; a place that is no node's start
    /// goes back with the nearest node before it on its line. Null for an unknown place (line 0) or one no node explains.
    /// </summary>
    public Origin? Find(long line, long column)
    {
        if (line <= 0) return null;
        if (_origins.TryGetValue((line, column), out var exact)) return exact;
        (long Line, long Column)? before = null;
        foreach (var key in _origins.Keys)
        {
            if (key.Line > line || (key.Line == line && key.Column > column)) break;
            if (key.Line == line) before = key;
        }
        if (before is not { } b) return null;
        var origin = _origins[b];
        return origin.Set is null ? origin with { At = new PlanPosition(origin.At.Line, origin.At.Column + column - b.Column) } : origin;
    }

    // Pre-order, so that a mapping and its first key, which start at the same place, go back to the mapping's place.
    private void Walk(YamlNode applied, YamlNode? original, string path, int? set)
    {
        Record(applied, original, set);
        if (applied is YamlMappingNode map)
        {
            var originalMap = original as YamlMappingNode;
            foreach (var (key, value) in map.Children)
            {
                string? name = (key as YamlScalarNode)?.Value;
                string childPath = name is null ? path : path.Length == 0 ? name : $"{path}.{name}";
                var originalKey = name is null ? null : originalMap?.Children.Keys.FirstOrDefault(k => k is YamlScalarNode s && s.Value == name);
                var originalValue = originalKey is null ? null : originalMap!.Children[originalKey];
                // The last --set of exactly this path wrote the value, unless a later one above it replaced the whole section.
                int? written = name is null ? null : Later(set, LastSetOf(childPath));
                // A key or section that is not in the file was added by a --set through it.
                int? added = originalKey is null ? set ?? written ?? (name is null ? null : FirstSetThrough(childPath)) : null;
                Record(key, originalKey, added ?? set);
                Walk(value, written is null ? originalValue : null, childPath, written ?? added ?? set);
            }
        }
        else if (applied is YamlSequenceNode list)
        {
            var originalList = original as YamlSequenceNode;
            for (int i = 0; i < list.Children.Count; i++)
                Walk(list.Children[i], originalList is not null && i < originalList.Children.Count ? originalList.Children[i] : null, $"{path}[{i}]", set);
        }
    }

    private void Record(YamlNode applied, YamlNode? original, int? set)
    {
        var at = (applied.Start.Line, applied.Start.Column);
        if (set is { } s) _origins.TryAdd(at, new Origin(default, _sets[s]));
        else if (original is not null) _origins.TryAdd(at, new Origin(new PlanPosition(original.Start.Line, original.Start.Column), null));
    }

    private static int? Later(int? a, int? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

    private int? LastSetOf(string path)
    {
        for (int i = _sets.Count - 1; i >= 0; i--)
        {
            if (_sets[i].Path == path) return i;
        }
        return null;
    }

    private int? FirstSetThrough(string path)
    {
        for (int i = 0; i < _sets.Count; i++)
        {
            if (_sets[i].Path.StartsWith(path + ".", StringComparison.Ordinal)) return i;
        }
        return null;
    }
}
