using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Cohort.Plans;

/// <summary>
/// Reads YAML events through to the tree builder, leaving out every repeated key of a mapping and its value (the
/// first one given stays) and recording each as a problem that names the mapping's dotted path and where the key
/// was first given. So a plan with a repeated key still loads, and its other problems are found in the same check.
/// A value holding a control character (other than a tab or a line break) is recorded the same way.
/// </summary>
internal sealed class DuplicateKeyFilter(IParser inner, string source, string what) : IParser
{
    private readonly List<Frame> _frames = [];
    private readonly List<PlanException> _duplicates = [];

    /// <summary>The repeated keys and the values holding control characters found so far, in file order.</summary>
    public IReadOnlyList<PlanException> Duplicates => _duplicates;

    public ParsingEvent? Current => inner.Current;

    public bool MoveNext()
    {
        while (inner.MoveNext())
        {
            var e = inner.Current!;
            // Text from a plan reaches errors, logs and terminals: escape sequences and carriage returns have no place in it.
            if (e is Scalar scalar && Unprintable(scalar.Value) is { } bad)
                _duplicates.Add(new PlanException(source, scalar.Start.Line, scalar.Start.Column,
                    $"a value holds the control character U+{(int)bad:X4}; a {what} takes printable text (tabs and line breaks aside)"));
            if (_frames.Count > 0 && _frames[^1] is { IsMapping: true, ExpectKey: true } map && e is Scalar key)
            {
                if (map.Keys.TryGetValue(key.Value, out var first))
                {
                    string where = map.Path.Length == 0 ? what : map.Path;
                    _duplicates.Add(new PlanException(source, key.Start.Line, key.Start.Column,
                        $"duplicate key '{key.Value}' in {where}, first given at line {first.Line}"));
                    SkipValue();
                    continue;
                }
                map.Keys[key.Value] = key.Start;
                map.Key = key.Value;
                map.ExpectKey = false;
                return true;
            }
            switch (e)
            {
                case MappingStart or SequenceStart:
                    _frames.Add(new Frame(ChildPath(), e is MappingStart));
                    break;
                case MappingEnd or SequenceEnd:
                    _frames.RemoveAt(_frames.Count - 1);
                    ValueDone();
                    break;
                case Scalar or AnchorAlias:
                    ValueDone();
                    break;
            }
            return true;
        }
        return false;
    }

    private static char? Unprintable(string text)
    {
        // Control characters, and the marks that reorder how a line displays (bidirectional overrides and isolates).
        foreach (char c in text)
            if (char.IsControl(c) && c is not '\t' and not '\n' || c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069') return c;
        return null;
    }

    // Reads past the value of a repeated key: one scalar or alias, or a whole mapping or list.
    private void SkipValue()
    {
        int depth = 0;
        while (inner.MoveNext())
        {
            switch (inner.Current)
            {
                case MappingStart or SequenceStart:
                    depth++;
                    break;
                case MappingEnd or SequenceEnd:
                    depth--;
                    break;
            }
            if (depth == 0) return;
        }
    }

    private string ChildPath()
    {
        if (_frames.Count == 0) return "";
        var parent = _frames[^1];
        if (!parent.IsMapping) return $"{parent.Path}[{parent.Index}]";
        return parent.Path.Length == 0 ? parent.Key ?? "" : $"{parent.Path}.{parent.Key}";
    }

    private void ValueDone()
    {
        if (_frames.Count == 0) return;
        var f = _frames[^1];
        if (f.IsMapping) f.ExpectKey = !f.ExpectKey;
        else f.Index++;
    }

    private sealed class Frame(string path, bool isMapping)
    {
        public string Path { get; } = path;

        public bool IsMapping { get; } = isMapping;

        public bool ExpectKey { get; set; } = true;

        public string? Key { get; set; }

        public int Index { get; set; }

        public Dictionary<string, Mark> Keys { get; } = new(StringComparer.Ordinal);
    }
}
