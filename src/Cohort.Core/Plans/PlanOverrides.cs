using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>
/// Plan values set on the command line (<c>--set KEY.PATH=VALUE</c>): parsed, applied to the plan text, and named in the
/// errors they cause. Applying rewrites the YAML, so a parser position would point into text the user never saw; an
/// error on an overridden value is reported against the <c>--set</c> that put it there instead.
/// </summary>
internal sealed class PlanOverrides
{
    private PlanOverrides(IReadOnlyList<(string Path, string Value)> values) => Values = values;

    /// <summary>The (dotted path, value) pairs in command-line order.</summary>
    public IReadOnlyList<(string Path, string Value)> Values { get; }

    /// <summary>Parses <c>KEY.PATH=VALUE</c> items; a malformed one is an error naming it.</summary>
    public static PlanOverrides Parse(IEnumerable<string>? items)
    {
        var values = new List<(string, string)>();
        foreach (string item in items ?? [])
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            string path = eq > 0 ? item[..eq] : "";
            // --set takes several values at once, so an option the command does not have is read as one of them.
            if (item.StartsWith("--", StringComparison.Ordinal) && eq < 0)
                throw new PlanException("--set", 0, 0, $"'{item}' is not an option of this command, and not KEY.PATH=VALUE; a plan value is set as --set {item[2..].Replace('-', '_')}=VALUE");
            if (path.Length == 0 || path.Split('.').Any(p => p.Trim().Length == 0))
                throw new PlanException("--set", 0, 0, $"'{item}': expected KEY.PATH=VALUE, e.g. rounds=3 or train.learning_rate=0.01");
            values.Add((path, item[(eq + 1)..]));
        }
        return new PlanOverrides(values);
    }

    /// <summary>Returns <paramref name="yaml"/> with every value set (unchanged when there are none); a malformed plan fails naming <paramref name="source"/>.</summary>
    public string Apply(string yaml, string source = "plan") => Values.Count == 0 ? yaml : PlanText.WithTypedValues(yaml, Values, source);

    /// <summary>
    /// When <paramref name="error"/> points at a value this set put into <paramref name="appliedYaml"/>, the same problem
    /// reported against that <c>--set</c>; otherwise <paramref name="error"/> itself. Each of its
    /// <see cref="PlanException.Errors"/> is blamed the same way, and the first stays first.
    /// </summary>
    public PlanException Blame(PlanException error, string appliedYaml)
    {
        if (error.Errors.Count == 1) return BlameOne(error, appliedYaml);
        var first = error.Errors.First(e => e.Line == error.Line && e.Column == error.Column && e.Problem == error.Problem);
        return PlanException.Of([BlameOne(first, appliedYaml), .. error.Errors.Where(e => e != first).Select(e => BlameOne(e, appliedYaml))]);
    }

    private PlanException BlameOne(PlanException error, string appliedYaml) =>
        FindAt(appliedYaml, error.Line) is { } hit ? new PlanException($"--set {hit.Path}={hit.Value}", 0, 0, error.Problem) : error;

    /// <summary>
    /// The same as <see cref="Blame(PlanException, string)"/> for an error that arrived as text
    /// (<c>SOURCE:LINE:COLUMN: PROBLEM</c>, as a server reports a plan error); null when it is not about a value set here.
    /// </summary>
    public string? Blame(string message, string source, string appliedYaml)
    {
        string prefix = source + ":";
        if (!message.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var parts = message[prefix.Length..].Split(':', 3);
        if (parts.Length < 3 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long line)) return null;
        return FindAt(appliedYaml, line) is { } hit ? $"--set {hit.Path}={hit.Value}: {parts[2].TrimStart()}" : null;
    }

    private (string Path, string Value)? FindAt(string appliedYaml, long line)
    {
        if (line <= 0 || Values.Count == 0) return null;
        YamlMappingNode root;
        try
        {
            root = PlanYamlLoader.Load(appliedYaml, "plan").Root;
        }
        catch (PlanException)
        {
            return null;
        }
        // The last --set of a path wins, as in Apply.
        for (int i = Values.Count - 1; i >= 0; i--)
        {
            YamlNode? node = root;
            foreach (string part in Values[i].Path.Split('.'))
                node = node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(part), out var child) ? child : null;
            if (node is not null && node.Start.Line == line) return Values[i];
        }
        return null;
    }
}
