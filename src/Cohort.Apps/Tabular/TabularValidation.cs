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
        var site = context.SiteLog ?? (_ => { });
        var settings = ReadSettings(context.AppSettings, problems);
        if (context.Partition is not null || !context.NodeSettings.TryGetValue("data", out var data)) return problems;
        string path = data.ToString();
        if (!File.Exists(path))
        {
            site($"data file '{path}' not found");
            problems.Add("the node's data file is not found (its path is in the node's log)");
            return problems;
        }
        if (settings is null) return problems;
        int before = problems.Count;
        CheckFile(settings, path, problems, site);
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
            problems.Add(Shared(e, site));
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

    // The problem the server is told; the full message, when it quotes the data, only on the site.
    private static string Shared(Exception e, Action<string> site)
    {
        string shared = SiteDataException.Shareable(e);
        if (shared != e.Message) site(e.Message);
        return shared;
    }

    private static void CheckFile(TabularSettings settings, string path, List<string> problems, Action<string> site)
    {
        TabularTable table;
        try
        {
            // Every column kept and its type inferred as categorical: auto would, so each can be checked by name.
            table = TabularReader.ReadFile(path, settings.Read with { InferTextColumns = true, TextColumns = new HashSet<string>(), SkipColumns = new HashSet<string>() });
        }
        catch (TabularDataException e)
        {
            problems.Add(Shared(e, site));
            return;
        }
        var options = settings.Preprocess;
        var names = table.Columns.Select(c => c.Name).ToArray();
        // A name close to the one the plan gave is shared (column names are the schema, which the statistics step shares
        // too); the file's whole list, which would be a data row when the header is not one, stays on the site.
        string Missing(string column, string namedBy)
        {
            string hint = NearestName.Hint(column, names);
            if (hint.Length > 0) return $"no column '{column}' ({namedBy}){hint}";
            site($"no column '{column}' ({namedBy}); columns: {string.Join(", ", names.Take(ListedColumns))}{(names.Length > ListedColumns ? ", …" : "")}");
            return $"no column '{column}' ({namedBy}) among the file's {names.Length} columns (their names stay in the site's log)";
        }

        if (table.IndexOf(options.Label) < 0) problems.Add(Missing(options.Label, "label"));
        else CheckLabel(table, options, problems, site);
        foreach (var c in options.Drop)
            if (table.IndexOf(c) < 0) problems.Add(Missing(c, "drop"));
        foreach (var c in options.InferCategories)
            if (table.IndexOf(c) < 0) problems.Add(Missing(c, "categorical"));
        foreach (var (c, categories) in options.Categorical)
        {
            if (table.IndexOf(c) < 0) problems.Add(Missing(c, $"categorical.{c}"));
            else CheckCategories(table, table[c], categories, problems, site);
        }

        foreach (var column in table.Columns)
        {
            if (column.IsNumeric || column.Name == options.Label || options.Drop.Contains(column.Name)) continue;
            if (options.CategoricalAuto || options.Categorical.ContainsKey(column.Name) || options.InferCategories.Contains(column.Name)) continue;
            int row = FirstText(column);
            site($"{table.Source}:{table.Lines[row]}: column '{column.Name}' holds text ('{column.Texts![row]}') but is not declared categorical");
            problems.Add($"column '{column.Name}' holds text but is not declared categorical (categorical: auto, or list it under categorical)");
        }
    }

    private static void CheckLabel(TabularTable table, TabularPreprocessorOptions options, List<string> problems, Action<string> site)
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
                problems.Add($"{Shared(e, site)} (label '{options.Label}', positive '{options.Positive.Text}')");
                return;
            }
        }
        if (present == 0) problems.Add($"label column '{options.Label}' has no values");
    }

    private static void CheckCategories(TabularTable table, TabularColumn column, IReadOnlyList<string> categories, List<string> problems, Action<string> site)
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
        site($"{table.Source}:{line}: column '{column.Name}': value '{first}'{more} not among the declared categories");
        // Not even how many: a count would tell a plan that lists guesses which of them the site holds.
        problems.Add($"column '{column.Name}': values not among the declared categories {string.Join(", ", categories)} (which stay in the site's log)");
    }

    private static int FirstText(TabularColumn column)
    {
        var texts = column.Texts!;
        for (int r = 0; r < texts.Length; r++)
            if (texts[r] is { } s && !TabularReader.IsNumber(s, out _)) return r;
        return 0;
    }
}
