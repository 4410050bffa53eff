using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>Loads plan text into its top-level YAML mapping, turning every YAML failure into a <see cref="PlanException"/>.</summary>
internal static class PlanYamlLoader
{
    private const string DuplicateKeyMessage = "Duplicate key ";

    /// <summary>The deepest nesting of mappings and lists a plan or site policy may have (real ones have a handful).</summary>
    public const int MaxDepth = 64;

    /// <summary>The most values (keys, items, scalars) a plan or site policy may hold once its aliases are expanded.</summary>
    public const int MaxValues = 100_000;

    /// <summary>The plan's single document, which must be a mapping; a repeated key is an error (all of them are named).</summary>
    public static YamlMappingNode LoadRoot(string yaml, string source) =>
        LoadRoot(yaml, source, "plan", "at least name, app and strategy");

    /// <summary>
    /// The plan's single document, which must be a mapping. A repeated key is recorded in <paramref name="problems"/>
    /// and left out (the first one given stays), so the rest of the plan is still read.
    /// </summary>
    public static YamlMappingNode LoadRoot(string yaml, string source, PlanProblems problems)
    {
        var (_, root, duplicates) = Load(yaml, source, "plan", "at least name, app and strategy");
        foreach (var d in duplicates) problems.Add(d);
        return root;
    }

    /// <summary>The single document of a YAML file of kind <paramref name="what"/> ("plan", "site policy"), which must be a mapping.</summary>
    public static YamlMappingNode LoadRoot(string yaml, string source, string what, string emptyHint) => NoDuplicates(Load(yaml, source, what, emptyHint)).Root;

    /// <summary>The whole stream of a plan's text (to edit and save again) and its root mapping, checked as <see cref="LoadRoot(string, string)"/> does.</summary>
    public static (YamlStream Stream, YamlMappingNode Root) Load(string yaml, string source) => NoDuplicates(Load(yaml, source, "plan", "at least name, app and strategy"));

    private static (YamlStream Stream, YamlMappingNode Root) NoDuplicates((YamlStream Stream, YamlMappingNode Root, IReadOnlyList<PlanException> Duplicates) loaded) =>
        loaded.Duplicates.Count > 0 ? throw PlanException.Of(loaded.Duplicates) : (loaded.Stream, loaded.Root);

    private static (YamlStream Stream, YamlMappingNode Root, IReadOnlyList<PlanException> Duplicates) Load(string yaml, string source, string what, string emptyHint)
    {
        var stream = new YamlStream();
        var filter = new DuplicateKeyFilter(new Parser(new StringReader(yaml)), source, what);
        try
        {
            CheckSize(yaml, source, what);
            stream.Load(filter);
        }
        catch (YamlException e) when (e.Message.StartsWith(DuplicateKeyMessage, StringComparison.Ordinal))
        {
            // Keys the filter tells apart (by their text) that YamlDotNet's tree holds equal.
            throw new PlanException(source, e.Start.Line, e.Start.Column, $"duplicate key '{e.Message[DuplicateKeyMessage.Length..]}'");
        }
        catch (YamlException e)
        {
            throw new PlanException(source, e.Start.Line, e.Start.Column, $"malformed YAML: {e.Message}");
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner fails this way, with no position, when a flow collection runs to the end of the text.
            if (UnclosedFlowCollection(yaml) is { } open)
                throw new PlanException(source, open.Mark.Line, open.Mark.Column, $"malformed YAML: this '{open.Opener}' is never closed");
            throw new PlanException(source, 0, 0, "malformed YAML: the parser stopped unexpectedly (an unclosed '[', '{' or quote?)");
        }

        if (stream.Documents.Count == 0 || YamlScalars.IsNull(stream.Documents[0].RootNode))
            throw new PlanException(source, 0, 0, $"the {what} is empty (expected a mapping with {emptyHint})");
        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode;
            throw new PlanException(source, second.Start.Line, second.Start.Column, $"a {what} is one YAML document, found {stream.Documents.Count}");
        }
        var root = stream.Documents[0].RootNode;
        if (root is not YamlMappingNode map)
            throw new PlanException(source, root.Start.Line, root.Start.Column, $"{what}: expected a mapping of {what} keys, got {YamlScalars.Describe(root)}");
        return (stream, map, filter.Duplicates);
    }

    /// <summary>
    /// Refuses, before any tree is built, text nested deeper than <see cref="MaxDepth"/> (building and reading the tree
    /// recurse once per level, and a stack overflow ends the process) or holding more than <see cref="MaxValues"/> values
    /// once its aliases are expanded (a kilobyte of nested aliases can stand for a billion values).
    /// </summary>
    internal static void CheckSize(string yaml, string source, string what = "plan")
    {
        var parser = new Parser(new StringReader(yaml));
        var open = new Stack<SizeFrame>();
        // What each anchor stands for: its values once expanded, and how many levels of mappings and lists it holds.
        var anchors = new Dictionary<string, (long Values, int Levels)>(StringComparer.Ordinal);
        long values = 0;
        while (parser.MoveNext())
        {
            var e = parser.Current!;
            switch (e)
            {
                case MappingStart or SequenceStart:
                    if (open.Count == MaxDepth) throw TooDeep(e);
                    values++;
                    open.Push(new SizeFrame(((NodeEvent)e).Anchor.IsEmpty ? null : ((NodeEvent)e).Anchor.Value, values - 1));
                    break;
                case MappingEnd or SequenceEnd:
                    var frame = open.Pop();
                    int levels = frame.LevelsBelow + 1;
                    if (frame.Anchor is not null) anchors[frame.Anchor] = (values - frame.ValuesBefore, levels);
                    if (open.TryPeek(out var parent)) parent.LevelsBelow = Math.Max(parent.LevelsBelow, levels);
                    break;
                case Scalar s:
                    values++;
                    if (!s.Anchor.IsEmpty) anchors[s.Anchor.Value] = (1, 0);
                    break;
                case AnchorAlias alias:
                    string name = alias.Value.Value;
                    // Inside the very mapping or list it names, the alias makes a loop that a reader follows forever.
                    if (open.Any(f => f.Anchor == name))
                        throw new PlanException(source, e.Start.Line, e.Start.Column, $"the alias *{name} refers to a mapping or list that contains it");
                    var (count, depth) = anchors.GetValueOrDefault(name, (1, 0));
                    // Expanded where it stands, its levels count from here.
                    if (open.Count + depth > MaxDepth) throw TooDeep(e);
                    values += count;
                    if (open.TryPeek(out var holder)) holder.LevelsBelow = Math.Max(holder.LevelsBelow, depth);
                    break;
            }
            if (values > MaxValues)
                throw new PlanException(source, e.Start.Line, e.Start.Column, $"the {what} holds more than {MaxValues.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} values once its aliases (*name) are expanded");
        }

        PlanException TooDeep(ParsingEvent at) =>
            new(source, at.Start.Line, at.Start.Column, $"the {what} nests mappings and lists more than {MaxDepth} levels deep (aliases expanded)");
    }

    private sealed class SizeFrame(string? anchor, long valuesBefore)
    {
        public string? Anchor { get; } = anchor;

        public long ValuesBefore { get; } = valuesBefore;

        public int LevelsBelow { get; set; }
    }

    /// <summary>The innermost '[' or '{' still open where the parser gives up, or null.</summary>
    private static (Mark Mark, char Opener)? UnclosedFlowCollection(string yaml)
    {
        var open = new Stack<(Mark Mark, char Opener, bool Flow)>();
        var parser = new Parser(new StringReader(yaml));
        try
        {
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case SequenceStart s:
                        open.Push((s.Start, '[', s.Style == SequenceStyle.Flow));
                        break;
                    case MappingStart m:
                        open.Push((m.Start, '{', m.Style == MappingStyle.Flow));
                        break;
                    case SequenceEnd or MappingEnd:
                        open.Pop();
                        break;
                }
            }
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            foreach (var (mark, opener, flow) in open)
                if (flow) return (mark, opener);
        }
        return null;
    }
}
