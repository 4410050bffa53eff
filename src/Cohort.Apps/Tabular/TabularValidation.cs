using System.Globalization;
using Cohort.Learning.Data;
using Cohort.Records;

namespace Cohort.Apps.Tabular;

/// <summary>
/// The tabular app's preflight: checks a run's app settings against a node's file without training and
/// collects every problem rather than stopping at the first, so a submitter fixes them all at once.
/// Settings first (unknown keys, values out of range), then the file: the columns named by label,
/// drop and categorical, the label rule on every label value, text in columns not declared
/// categorical, values outside declared categories, and finally the app's own loading. The problems go
/// to the server, so they count what is wrong and never quote the data; the values and lines behind them
/// go to the context's <see cref="ClientAppContext.SiteLog"/>, which stays on the site.
/// </summary>
internal static class TabularValidation
{
    private const int ListedColumns = 12;

    /// <summary>Every problem of <paramref name="context"/>'s settings on the file its node setting <c>data</c> names (settings only without one).</summary>
    public static IReadOnlyList<string> Check(ClientAppContext context, TabularAppFactory factory)
    {
        var problems = new List<string>();
        var settings = ReadSettings(context.AppSettings, problems);
        if (context.Partition is not null || !context.NodeSettings.TryGetValue("data", out var data)) return problems;
        var found = new Findings(problems, context.SiteLog ?? (_ => { }), context.QuoteData);
        string path = data.ToString();
        if (Directory.Exists(path))
        {
            found.Add("the node's data is a folder, not a file (its path is in the node's log)", $"data '{path}' is a folder; the tabular app reads one CSV file");
            return problems;
        }
        if (!File.Exists(path))
        {
            found.Add("the node's data file is not found (its path is in the node's log)", $"data file '{path}' not found");
            return problems;
        }
        if (settings is null) return problems;
        int before = problems.Count;
        CheckFile(settings, path, found);
        if (problems.Count > before || before > 0) return problems;
        try
        {
            // What is left is what only loading finds (too few rows to split, …): load as a run would. Settings
            // that need the statistics step load as the statistics task would, the federation's statistics not being there yet.
            var app = factory.Create(context);
            (app as IDisposable)?.Dispose();
        }
        catch (Exception e) when (e is TabularDataException or AppConfigurationException or ArgumentException or InvalidOperationException or IOException)
        {
            problems.Add(found.Of(e));
        }
        return problems;
    }

    // Reads the settings, dropping each offending key and reading again, so that one typo does not hide the next.
    private static TabularSettings? ReadSettings(Config appSettings, List<string> problems)
    {
        var config = appSettings.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        for (int attempt = 0; attempt <= appSettings.Count + 1; attempt++)
        {
            try
            {
                return TabularSettings.FromConfig(new Config(config));
            }
            catch (AppConfigurationException e)
            {
                bool retry = e.Key is { } key && config.Remove(key);
                if (e.Key is null || reported.Add(e.Key)) problems.Add(Shorten(e));
                if (!retry) return null;
            }
        }
        return null;
    }

    // An unknown key with a likely intended one is clear without the list of every known key.
    private static string Shorten(AppConfigurationException e)
    {
        int known = e.Message.IndexOf("; known: ", StringComparison.Ordinal);
        return e.IsUnknownKey && known > 0 && e.Message.Contains("did you mean", StringComparison.Ordinal) ? e.Message[..known] : e.Message;
    }

    /// <summary>
    /// The problems found and where their details go: for a server, each problem without the data and its values and lines
    /// to the site's log; where the data is the user's own (<see cref="ClientAppContext.QuoteData"/>), each problem once, with them.
    /// </summary>
    private sealed class Findings(List<string> problems, Action<string> site, bool quote)
    {
        /// <summary>A problem as the server is told it, and as the site reads it when that quotes the data (null when not).</summary>
        public void Add(string shared, string? detail = null) => problems.Add(Text(shared, detail));

        /// <summary>What to report of <paramref name="e"/>: its message where the data may be quoted, else what may leave the site.</summary>
        public string Of(Exception e)
        {
            string shared = SiteDataException.Shareable(e);
            return Text(shared, shared == e.Message ? null : e.Message);
        }

        private string Text(string shared, string? detail)
        {
            if (detail is null) return shared;
            if (quote) return detail;
            site(detail);
            return shared;
        }
    }

    private static void CheckFile(TabularSettings settings, string path, Findings found)
    {
        TabularTable table;
        try
        {
            // Every column kept and its type inferred as categorical: auto would, so each can be checked by name.
            table = TabularReader.ReadFile(path, settings.Read with { InferTextColumns = true, TextColumns = new HashSet<string>(), SkipColumns = new HashSet<string>() });
        }
        catch (TabularDataException e)
        {
            found.Add(found.Of(e));
            return;
        }
        var options = settings.Preprocess;
        var names = table.Columns.Select(c => c.Name).ToArray();
        // A name close to the one the plan gave is shared (column names are the schema, which the statistics step shares
        // too); the file's whole list, which would be a data row when the header is not one, stays on the site.
        void Missing(string column, string namedBy)
        {
            string hint = NearestName.Hint(column, names);
            if (hint.Length > 0) found.Add($"no column '{column}' ({namedBy}){hint}");
            else found.Add($"no column '{column}' ({namedBy}) among the file's {names.Length} columns (their names stay in the site's log)",
                $"no column '{column}' ({namedBy}); columns: {string.Join(", ", names.Take(ListedColumns))}{(names.Length > ListedColumns ? ", …" : "")}");
        }

        if (table.IndexOf(options.Label) < 0) Missing(options.Label, "label");
        else CheckLabel(table, options, found);
        foreach (var c in options.Drop)
            if (table.IndexOf(c) < 0) Missing(c, "drop");
        foreach (var c in options.InferCategories)
            if (table.IndexOf(c) < 0) Missing(c, "categorical");
        foreach (var (c, categories) in options.Categorical)
        {
            if (table.IndexOf(c) < 0) Missing(c, $"categorical.{c}");
            else CheckCategories(table, table[c], categories, found);
        }

        foreach (var column in table.Columns)
        {
            if (column.IsNumeric || column.Name == options.Label || options.Drop.Contains(column.Name)) continue;
            if (options.CategoricalAuto || options.Categorical.ContainsKey(column.Name) || options.InferCategories.Contains(column.Name)) continue;
            int row = FirstText(column);
            found.Add($"column '{column.Name}' holds text but is not declared categorical (categorical: auto, or list it under categorical)",
                $"{table.Source}:{table.Lines[row]}: column '{column.Name}' holds text ('{column.Texts![row]}') but is not declared categorical");
        }
    }

    private static void CheckLabel(TabularTable table, TabularPreprocessorOptions options, Findings found)
    {
        var label = table[options.Label];
        int present = 0;
        for (int r = 0; r < label.Length; r++)
        {
            if (label.IsMissing(r)) continue;
            present++;
            string value = label.Texts is { } t ? t[r]! : label.Numbers![r].ToString("R", CultureInfo.InvariantCulture);
            try
            {
                options.Positive.IsPositive(value, table.Source, table.Lines[r]);
            }
            catch (TabularDataException e)
            {
                found.Add($"{found.Of(e)} (label '{options.Label}', positive '{options.Positive.Text}')");
                return;
            }
        }
        if (present == 0) found.Add($"label column '{options.Label}' has no values");
    }

    private static void CheckCategories(TabularTable table, TabularColumn column, IReadOnlyList<string> categories, Findings found)
    {
        var numbers = new HashSet<double>();
        foreach (var c in categories)
            if (TabularReader.IsNumber(c, out double v)) numbers.Add(v);
        var texts = new HashSet<string>(categories, StringComparer.Ordinal);
        var unknown = new List<(string Value, int Line)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int r = 0; r < column.Length; r++)
        {
            if (column.IsMissing(r)) continue;
            string value = column.Texts is { } t ? t[r]! : column.Numbers![r].ToString("R", CultureInfo.InvariantCulture);
            bool known = TabularReader.IsNumber(value, out double n) ? numbers.Contains(n) || texts.Contains(value) : texts.Contains(value);
            if (!known && seen.Add(value)) unknown.Add((value, table.Lines[r]));
        }
        if (unknown.Count == 0) return;
        var (first, line) = unknown[0];
        string more = unknown.Count > 1 ? $" and {unknown.Count - 1} other value{(unknown.Count > 2 ? "s" : "")}" : "";
        // Not even how many: a count would tell a plan that lists guesses which of them the site holds.
        found.Add($"column '{column.Name}': values not among the declared categories {string.Join(", ", categories)} (which stay in the site's log)",
            $"{table.Source}:{line}: column '{column.Name}': value '{first}'{more} not among the declared categories");
    }

    private static int FirstText(TabularColumn column)
    {
        var texts = column.Texts!;
        for (int r = 0; r < texts.Length; r++)
            if (texts[r] is { } s && !TabularReader.IsNumber(s, out _)) return r;
        return 0;
    }
}
