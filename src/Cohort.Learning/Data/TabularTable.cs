namespace Cohort.Learning.Data;

/// <summary>
/// A table as read from a file, column by column: numeric columns as doubles (NaN = missing), text
/// columns as strings (null = missing). Each row remembers its line so later checks can name it.
/// </summary>
internal sealed class TabularTable
{
    private readonly Dictionary<string, int> _index;

    /// <summary>Creates a table; all columns must have <paramref name="lines"/>.Length rows.</summary>
    public TabularTable(string source, IReadOnlyList<TabularColumn> columns, int[] lines)
    {
        Source = source;
        Columns = columns;
        Lines = lines;
        _index = new Dictionary<string, int>(columns.Count, StringComparer.Ordinal);
        for (int i = 0; i < columns.Count; i++)
        {
            if (columns[i].Length != lines.Length)
                throw new ArgumentException($"column '{columns[i].Name}' has {columns[i].Length} rows, expected {lines.Length}");
            if (!_index.TryAdd(columns[i].Name, i))
                throw new TabularDataException(source, 0, $"column '{columns[i].Name}' appears twice", "two columns have the same name");
        }
    }

    /// <summary>File name (or other source) used in error messages.</summary>
    public string Source { get; }

    /// <summary>The columns that were kept, in file order.</summary>
    public IReadOnlyList<TabularColumn> Columns { get; }

    /// <summary>1-based line number of each row in the source.</summary>
    public int[] Lines { get; }

    /// <summary>Number of rows.</summary>
    public int RowCount => Lines.Length;

    /// <summary>A new table of the given rows of this one, in the given order (values copied).</summary>
    public TabularTable Subset(ReadOnlySpan<int> rows)
    {
        var picked = rows.ToArray();
        var columns = Columns.Select(c => c.Numbers is { } n
            ? TabularColumn.Numeric(c.Name, picked.Select(r => n[r]).ToArray())
            : TabularColumn.Text(c.Name, picked.Select(r => c.Texts![r]).ToArray())).ToList();
        return new TabularTable(Source, columns, picked.Select(r => Lines[r]).ToArray());
    }

    /// <summary>The position of the column called <paramref name="name"/>, or -1.</summary>
    public int IndexOf(string name) => _index.TryGetValue(name, out int i) ? i : -1;

    /// <summary>The column called <paramref name="name"/>; throws listing the columns when there is none.</summary>
    public TabularColumn this[string name] => _index.TryGetValue(name, out int i)
        ? Columns[i]
        : throw NoColumn(Source, name, [.. Columns.Select(c => c.Name)]);

    /// <summary>
    /// No column <paramref name="name"/> (a name the plan gave) among <paramref name="names"/>: the site is shown the
    /// names; the server, which might learn a data row from them (a header that is not one), only how many there are.
    /// </summary>
    internal static TabularDataException NoColumn(string source, string name, IReadOnlyList<string> names) =>
        new(source, 0, $"no column '{name}' (columns: {string.Join(", ", names)})", $"no column '{name}' among the file's {names.Count} columns");
}

/// <summary>One column of a <see cref="TabularTable"/>: either numbers or text.</summary>
internal sealed class TabularColumn
{
    private TabularColumn(string name, double[]? numbers, string?[]? texts)
    {
        Name = name;
        Numbers = numbers;
        Texts = texts;
    }

    /// <summary>A numeric column; NaN marks a missing value.</summary>
    public static TabularColumn Numeric(string name, double[] values) => new(name, values, null);

    /// <summary>A text column; null marks a missing value.</summary>
    public static TabularColumn Text(string name, string?[] values) => new(name, null, values);

    /// <summary>Column name.</summary>
    public string Name { get; }

    /// <summary>Values of a numeric column, else null.</summary>
    public double[]? Numbers { get; }

    /// <summary>Values of a text column, else null.</summary>
    public string?[]? Texts { get; }

    /// <summary>True for a numeric column.</summary>
    public bool IsNumeric => Numbers is not null;

    /// <summary>Number of rows.</summary>
    public int Length => Numbers?.Length ?? Texts!.Length;

    /// <summary>True when row <paramref name="row"/> has no value.</summary>
    public bool IsMissing(int row) => Numbers is { } n ? double.IsNaN(n[row]) : Texts![row] is null;
}
