using System.Globalization;
using System.Text.RegularExpressions;

namespace Cohort.Plans;

/// <summary>
/// Plan values set on the command line (<c>--set KEY.PATH=VALUE</c>): parsed, applied to the plan text, and named in the
/// errors they cause. Applying rewrites the YAML, so a parser position would point into text the user never saw: an
/// error on an overridden value is reported against the <c>--set</c> that put it there instead, and any other at its
/// place in the user's file (<see cref="PlanPositionMap"/>).
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
    /// <paramref name="error"/>, found in <paramref name="appliedYaml"/> (<paramref name="originalYaml"/> with these values
    /// set), placed where the user can see it: a problem with a value this set put there is reported against that
    /// <c>--set</c>, any other at its line and column in the user's file (the applied text is re-emitted without comments or
    /// blank lines, so its own positions are not the file's). Each of its <see cref="PlanException.Errors"/> is placed the
    /// same way, and the first stays first.
    /// </summary>
    public PlanException Blame(PlanException error, string originalYaml, string appliedYaml)
    {
        if (Values.Count == 0) return error;
        var map = PlanPositionMap.Of(originalYaml, appliedYaml, Values);
        if (error.Errors.Count == 1) return BlameOne(error, map);
        var first = error.Errors.First(e => e.Line == error.Line && e.Column == error.Column && e.Problem == error.Problem);
        return PlanException.Of([BlameOne(first, map), .. error.Errors.Where(e => e != first).Select(e => BlameOne(e, map))]);
    }

    private static PlanException BlameOne(PlanException error, PlanPositionMap? map) => map?.Find(error.Line, error.Column) switch
    {
        { Set: { } set } => new PlanException($"--set {set.Path}={set.Value}", 0, 0, error.Problem),
        { At: var at } => at.Line == error.Line && at.Column == error.Column ? error : new PlanException(error.Source, at.Line, at.Column, error.Problem),
        null => error,
    };

    /// <summary>
    /// The same as <see cref="Blame(PlanException, string, string)"/> for errors that arrived as text, as a server reports a
    /// plan's problems: each place <c>SENT:LINE:COLUMN</c> (or <c>SENT:</c> alone) in <paramref name="message"/>, where
    /// <paramref name="sent"/> is the name the plan was sent under, becomes <c>SHOWN:LINE:COLUMN</c> at the place in the
    /// user's file, or <c>--set PATH=VALUE</c> for a value set here. The server needs only a file's name, so a local path is
    /// never sent; <paramref name="shown"/> is the path as the user typed it.
    /// </summary>
    public string Blame(string message, string sent, string shown, string originalYaml, string appliedYaml)
    {
        var map = Values.Count == 0 ? null : PlanPositionMap.Of(originalYaml, appliedYaml, Values);
        // A place starts the message or follows a separator ("node a: plan.yaml:12:5: ...", "...; plan.yaml:3:1: ...").
        var place = new Regex($@"(?<=^|: |; |\(also: ){Regex.Escape(sent)}(?::(\d+):(\d+))?(?=:)", RegexOptions.Multiline, TimeSpan.FromSeconds(1));
        return place.Replace(message, m =>
        {
            if (!m.Groups[1].Success) return shown;
            long line = long.Parse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture);
            long column = long.Parse(m.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture);
            return map?.Find(line, column) switch
            {
                { Set: { } set } => $"--set {set.Path}={set.Value}",
                { At: var at } => $"{shown}:{at.Line}:{at.Column}",
                null => $"{shown}:{line}:{column}",
            };
        });
    }
}
