using System.Globalization;

namespace Cohort.Learning.Data;

/// <summary>
/// Reads comma-separated tabular files (csv with or without a header, or UCI style) into a
/// <see cref="TabularTable"/>. '?' and empty fields are missing values. Errors name the file and line.
/// </summary>
internal static class TabularReader
{
    /// <summary>Reads the file at <paramref name="path"/>; errors name the file by its file name.</summary>
    public static TabularTable ReadFile(string path, TabularReadOptions options)
    {
        string source = Path.GetFileName(path);
        if (!File.Exists(path)) throw new TabularDataException(path, 0, "file not found");
        StreamReader reader;
        try
        {
            reader = new StreamReader(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The exception's own message holds the full path, which is the site's: the server gets the file's name.
            throw new TabularDataException(path, 0, $"cannot be read: {e.Message}", "cannot be read (the node's log says why)");
        }
        using (reader) return Read(reader, source, options);
    }

    private const string NumberHeaderAdvice =
        "the first row may be data, which must not become column names (a file without a header: header: false with the names under columns; a header whose names are numbers: give the names under columns)";

    /// <summary>Reads from <paramref name="reader"/>; <paramref name="source"/> names it in errors.</summary>
    public static TabularTable Read(TextReader reader, string source, TabularReadOptions options)
    {
        string[]? names = options.Columns?.ToArray();
        var fields = new List<string>();
        int lineNumber = 0;
        string? line;

        if (options.HasHeader)
        {
            while ((line = reader.ReadLine()) is not null)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                SplitLine(line, fields, source, lineNumber);
                if (names is null)
                {
                    // A number is no column name: the row is data (a file without a header, or one the plan says has one).
                    // Refused before its cells become names, which errors and statistics would carry off the site.
                    int number = fields.FindIndex(f => IsNumber(f, out _));
                    if (number >= 0)
                        throw new TabularDataException(source, lineNumber,
                            $"header cell {number + 1} is '{fields[number]}', a number: {NumberHeaderAdvice}",
                            $"a header cell is a number: {NumberHeaderAdvice}");
                    names = [.. fields];
                }
                else if (names.Length != fields.Count)
                    throw new TabularDataException(source, lineNumber, $"header has {fields.Count} columns but {names.Length} column names were given");
                break;
            }
            if (names is null) throw new TabularDataException(source, 0, "file is empty (expected a header row)");
        }
        else if (names is null)
        {
            throw new TabularDataException(source, 0, "the file has no header, so its column names must be given");
        }

        int first = 0;
        if (options.DropIndexColumn)
        {
            if (!options.HasHeader || names.Length == 0 || !string.IsNullOrWhiteSpace(names[0]))
                throw new TabularDataException(source, lineNumber, $"drop_index is set but the first header cell is {(names.Length > 0 && options.HasHeader ? $"'{names[0]}'" : "absent")}, not empty",
                    $"drop_index is set but the first header cell is {(names.Length > 0 && options.HasHeader ? "not empty" : "absent")}");
            first = 1;
        }
        for (int i = first; i < names.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(names[i]))
                throw new TabularDataException(source, lineNumber, i == 0 ? "column 1 has no name (an index column saved by pandas? set drop_index: true to leave it out)" : $"column {i + 1} has no name");
        }

        foreach (var wanted in options.SkipColumns.Concat(options.TextColumns))
        {
            if (Array.IndexOf(names, wanted) < 0)
                throw TabularTable.NoColumn(source, wanted, names);
        }

        var builders = new ColumnBuilder?[names.Length];
        for (int i = first; i < names.Length; i++)
        {
            if (options.SkipColumns.Contains(names[i])) continue;
            builders[i] = new ColumnBuilder(names[i], options.TextColumns.Contains(names[i]), options.InferTextColumns);
        }

        var lines = new List<int>();
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            SplitLine(line, fields, source, lineNumber);
            if (fields.Count != names.Length)
                throw new TabularDataException(source, lineNumber, $"expected {names.Length} fields, found {fields.Count}");
            for (int i = 0; i < names.Length; i++)
                builders[i]?.Add(fields[i], source, lineNumber);
            lines.Add(lineNumber);
        }

        var columns = new List<TabularColumn>(names.Length);
        foreach (var b in builders)
            if (b is not null) columns.Add(b.Build());
        return new TabularTable(source, columns, lines.ToArray());
    }

    /// <summary>True for the spellings of a missing value: empty and '?'.</summary>
    public static bool IsMissing(ReadOnlySpan<char> field) => field.IsEmpty || field is "?";

    /// <summary>
    /// The one rule for what counts as a number in a tabular file (invariant culture, finite), used when
    /// reading values and when inferring a column's type (<see cref="TabularSchema"/>).
    /// </summary>
    public static bool IsNumber(string field, out double value) =>
        double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    // Splits one line on commas, honouring double-quoted fields ("" inside quotes is a quote); fields are trimmed.
    internal static void SplitLine(string line, List<string> fields, string source, int lineNumber)
    {
        fields.Clear();
        int i = 0;
        while (true)
        {
            while (i < line.Length && line[i] is ' ' or '\t') i++;
            if (i < line.Length && line[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new TabularDataException(source, lineNumber, "unterminated quoted field");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    sb.Append(line[i++]);
                }
                while (i < line.Length && line[i] is ' ' or '\t' or '\r') i++;
                fields.Add(sb.ToString());
                if (i >= line.Length) return;
                if (line[i] != ',') throw new TabularDataException(source, lineNumber, $"unexpected '{line[i]}' after a quoted field", "unexpected text after a quoted field");
                i++;
            }
            else
            {
                int comma = line.IndexOf(',', i);
                int end = comma < 0 ? line.Length : comma;
                fields.Add(line.AsSpan(i, end - i).Trim().ToString());
                if (comma < 0) return;
                i = comma + 1;
            }
        }
    }

    // Numbers unless declared text; when inferring, the raw fields are kept too so that a column turns
    // to text at its first value that is not a number.
    private sealed class ColumnBuilder(string name, bool text, bool infer)
    {
        private readonly List<double> _numbers = text ? [] : new List<double>(256);
        private readonly List<string?> _texts = text || infer ? new List<string?>(256) : [];

        public void Add(string field, string source, int line)
        {
            bool missing = IsMissing(field);
            if (text || infer) _texts.Add(missing ? null : field);
            if (text) return;
            if (missing)
            {
                _numbers.Add(double.NaN);
            }
            else if (IsNumber(field, out double v))
            {
                _numbers.Add(v);
            }
            else if (infer)
            {
                text = true;
            }
            else
            {
                throw new TabularDataException(source, line, $"column '{name}': '{field}' is not a number", $"column '{name}': a value is not a number");
            }
        }

        public TabularColumn Build() => text
            ? TabularColumn.Text(name, _texts.ToArray())
            : TabularColumn.Numeric(name, _numbers.ToArray());
    }
}
