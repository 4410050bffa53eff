using Cohort.Records;
using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>
/// One mapping of a plan (the top level, <c>train</c>, …) with its key path. Unknown keys are rejected
/// when it is read; the typed getters report the offending node's line and column.
/// </summary>
internal sealed class YamlSection
{
    private readonly Dictionary<string, Entry> _entries;

    private readonly string _root;

    private readonly PlanProblems? _problems;

    private YamlSection(string source, string path, YamlNode node, bool present, Dictionary<string, Entry> entries, string root = "plan", PlanProblems? problems = null)
    {
        _root = root;
        _problems = problems;
        Source = source;
        Path = path;
        Node = node;
        Present = present;
        _entries = entries;
    }

    /// <summary>One key and its value.</summary>
    public readonly record struct Entry(YamlScalarNode Key, YamlNode Value);

    /// <summary>File name for errors.</summary>
    public string Source { get; }

    /// <summary>Dotted key path ("train.lr_schedule"); empty for the top level.</summary>
    public string Path { get; }

    /// <summary>The mapping, or for an absent section the parent's node (where "missing" errors point).</summary>
    public YamlNode Node { get; }

    /// <summary>False when the plan does not have this section.</summary>
    public bool Present { get; }

    /// <summary>The entries in file order.</summary>
    public IEnumerable<KeyValuePair<string, Entry>> Entries => _entries;

    /// <summary>What messages call this section: "plan" (or the document's name) for the top level, else its path.</summary>
    public string Where => Path.Length == 0 ? _root : Path;

    /// <summary>
    /// Reads a mapping; an empty value reads as an empty section. Keys outside <paramref name="allowed"/>
    /// (when given) are errors that list the allowed keys and the nearest one. <paramref name="root"/> names the top
    /// level in messages. With <paramref name="problems"/>, unknown keys (here and in the sections read from this one)
    /// are recorded there and skipped instead of thrown, so that one reading finds them all.
    /// </summary>
    public static YamlSection Read(string source, string path, YamlNode node, IReadOnlyList<string>? allowed, string root = "plan", PlanProblems? problems = null)
    {
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        if (YamlScalars.IsNull(node)) return new YamlSection(source, path, node, true, entries, root, problems);
        if (node is not YamlMappingNode map)
            throw Error(source, node, $"{(path.Length == 0 ? root : path)}: expected a mapping of keys, got {YamlScalars.Describe(node)}");
        var section = new YamlSection(source, path, node, true, entries, root, problems);
        foreach (var (k, v) in map.Children)
        {
            string key = KeyName(source, section.Where, k);
            if (allowed is not null && !allowed.Contains(key, StringComparer.Ordinal))
            {
                var unknown = Error(source, k, $"unknown key '{key}' in {section.Where} (allowed: {string.Join(", ", allowed)}){NearestName.Hint(key, allowed)}");
                if (problems is null) throw unknown;
                problems.Add(unknown);
                continue;
            }
            if (!entries.TryAdd(key, new Entry((YamlScalarNode)k, v)))
                throw Error(source, k, $"duplicate key '{key}' in {section.Where}");
        }
        return section;
    }

    /// <summary>The text of a mapping key; a key that is empty or not a plain name is an error.</summary>
    public static string KeyName(string source, string where, YamlNode key)
    {
        if (key is not YamlScalarNode s || string.IsNullOrEmpty(s.Value))
            throw Error(source, key, $"{where}: keys must be non-empty names, got {YamlScalars.Describe(key)}");
        if (s.Value == "<<") throw Error(source, key, $"{where}: merge keys ('<<') are not supported; write the keys out");
        return s.Value;
    }

    /// <summary>An error at <paramref name="node"/>'s position.</summary>
    public static PlanException Error(string source, YamlNode node, string problem) =>
        new(source, node.Start.Line, node.Start.Column, problem);

    /// <summary>An error at <paramref name="node"/>'s position.</summary>
    public PlanException Error(YamlNode node, string problem) => Error(Source, node, problem);

    /// <summary>"missing required key" error at this section's position, naming a key of the section that looks like a slip for it.</summary>
    public PlanException Missing(string key, string? why = null)
    {
        // A misspelt key reads as missing (and is reported as unknown): name it here too, so the two problems read as one slip.
        var strays = Present && Node is YamlMappingNode map
            ? map.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? "").Where(k => !_entries.ContainsKey(k))
            : [];
        return Error(Node, $"missing required key '{key}' in {Where}{(why is null ? "" : $" ({why})")}{NearestName.Slip(key, strays)}");
    }

    /// <summary>The full dotted name of a key of this section.</summary>
    public string NameOf(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    /// <summary>The value node of a key, or null when absent.</summary>
    public YamlNode? Find(string key) => _entries.TryGetValue(key, out var e) ? e.Value : null;

    /// <summary>The key node of a key, or null when absent.</summary>
    public YamlScalarNode? FindKey(string key) => _entries.TryGetValue(key, out var e) ? e.Key : null;

    /// <summary>A nested section; absent reads as an empty section with <see cref="Present"/> false.</summary>
    public YamlSection Section(string key, IReadOnlyList<string>? allowed) =>
        Find(key) is { } node
            ? Read(Source, NameOf(key), node, allowed, problems: _problems)
            : new YamlSection(Source, NameOf(key), Node, false, new Dictionary<string, Entry>(StringComparer.Ordinal), problems: _problems);

    /// <summary>A nested section that must be present.</summary>
    public YamlSection RequiredSection(string key, IReadOnlyList<string>? allowed) =>
        Find(key) is null ? throw Missing(key) : Section(key, allowed);

    /// <summary>The typed single value of a key, or null when absent; empty values and collections are errors.</summary>
    public Scalar? Value(string key) => Find(key) is { } node ? ValueOf(NameOf(key), node) : (Scalar?)null;

    /// <summary>The typed single value of a node named <paramref name="name"/> in messages.</summary>
    public Scalar ValueOf(string name, YamlNode node)
    {
        if (YamlScalars.IsNull(node)) throw Error(node, $"{name}: has no value");
        if (node is not YamlScalarNode s)
            throw Error(node, $"{name}: expected a single value (bool, number or text), got {YamlScalars.Describe(node)}");
        return YamlScalars.ToScalar(s);
    }

    /// <summary>A non-empty text value (numbers and bools are taken as written), or null when absent.</summary>
    public string? String(string key)
    {
        if (Find(key) is not { } node) return null;
        ValueOf(NameOf(key), node);
        string text = ((YamlScalarNode)node).Value ?? "";
        if (text.Trim().Length == 0) throw Error(node, $"{NameOf(key)}: must not be empty");
        return text;
    }

    /// <summary>A text value that must be present.</summary>
    public string RequiredString(string key) => String(key) ?? throw Missing(key);

    /// <summary>One of <paramref name="allowed"/> (matched ignoring case, returned as listed), or null when absent.</summary>
    public string? Choice(string key, IReadOnlyList<string> allowed)
    {
        if (String(key) is not { } text) return null;
        foreach (var a in allowed)
            if (string.Equals(a, text, StringComparison.OrdinalIgnoreCase)) return a;
        throw Error(Find(key)!, $"{NameOf(key)}: '{text}' is not allowed (allowed: {string.Join(", ", allowed)})");
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>], or null when absent.</summary>
    public long? Integer(string key, long min = long.MinValue, long max = long.MaxValue)
    {
        if (Value(key) is not { } v) return null;
        var node = Find(key)!;
        if (v.Kind != ScalarKind.Int) throw Error(node, $"{NameOf(key)}: {YamlScalars.IsNot(v, "an integer")}");
        long i = v.AsInt();
        if (i < min) throw Error(node, $"{NameOf(key)}: {i} is not allowed (must be >= {min})");
        if (i > max) throw Error(node, $"{NameOf(key)}: {i} is not allowed (must be <= {max})");
        return i;
    }

    /// <summary>An integer that fits an <see cref="int"/> and is at least <paramref name="min"/>, or null when absent.</summary>
    public int? Int(string key, int min) => (int?)Integer(key, min, int.MaxValue);

    /// <summary>A number (integer or decimal) within <paramref name="bounds"/>, or null when absent.</summary>
    public double? Number(string key, NumberBounds bounds)
    {
        if (Value(key) is not { } v) return null;
        var node = Find(key)!;
        if (!v.IsNumber) throw Error(node, $"{NameOf(key)}: {YamlScalars.IsNot(v, "a number")}");
        double d = v.AsDouble();
        if (!double.IsFinite(d) || !bounds.Contains(d))
            throw Error(node, $"{NameOf(key)}: {v} is not allowed ({bounds.Describe()})");
        return d;
    }

    /// <summary>A duration ("90s", "5m", "1h", "250ms", "1h30m" or a number of seconds), or null when absent.</summary>
    public TimeSpan? Duration(string key, bool allowZero)
    {
        if (Value(key) is not { } v) return null;
        var node = Find(key)!;
        if (!PlanDurations.TryParse(v, out var seconds))
            throw Error(node, $"{NameOf(key)}: {YamlScalars.Show(v)} is not a duration (use e.g. 90s, 5m, 1h, 250ms, 1h30m or a number of seconds)");
        if (seconds < 0 || (!allowZero && seconds == 0))
            throw Error(node, $"{NameOf(key)}: {v} is not allowed (must be {(allowZero ? ">= 0" : "> 0")})");
        if (seconds > PlanDurations.MaxSeconds)
            throw Error(node, $"{NameOf(key)}: {v} is too long (at most {PlanDurations.MaxDays} days, the longest the server's timers wait)");
        return TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
    }

    /// <summary>A list of non-empty texts, or null when absent.</summary>
    public IReadOnlyList<string>? StringList(string key)
    {
        if (Find(key) is not { } node) return null;
        if (YamlScalars.IsNull(node)) return [];
        if (node is not YamlSequenceNode seq)
            throw Error(node, $"{NameOf(key)}: expected a list of texts, got {YamlScalars.Describe(node)}");
        var items = new List<string>(seq.Children.Count);
        for (int i = 0; i < seq.Children.Count; i++)
        {
            var item = seq.Children[i];
            string name = $"{NameOf(key)}[{i}]";
            ValueOf(name, item);
            string text = ((YamlScalarNode)item).Value ?? "";
            if (text.Trim().Length == 0) throw Error(item, $"{name}: must not be empty");
            items.Add(text);
        }
        return items;
    }

    /// <summary>This section as a config of single typed values (strategy params, round config).</summary>
    public Config ToScalarConfig()
    {
        var values = new Dictionary<string, Scalar>(StringComparer.Ordinal);
        foreach (var (key, entry) in _entries) values[key] = ValueOf(NameOf(key), entry.Value);
        return new Config(values);
    }
}
