namespace Cohort.Learning.Data;

/// <summary>How <see cref="TabularReader"/> reads a file.</summary>
internal sealed record TabularReadOptions
{
    /// <summary>File layout.</summary>
    public TabularFormat Format { get; init; } = TabularFormat.Csv;

    /// <summary>Whether the first non-blank line names the columns; null means the format's default (csv: yes, uci: no).</summary>
    public bool? Header { get; init; }

    /// <summary>Column names; required without a header, and when given with a header they replace its names.</summary>
    public IReadOnlyList<string>? Columns { get; init; }

    /// <summary>Columns kept as text (categorical values, string labels); all other kept columns must be numbers.</summary>
    public IReadOnlySet<string> TextColumns { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Columns not kept at all, so malformed values there are never an error.</summary>
    public IReadOnlySet<string> SkipColumns { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Whether a column holding any value that is not a number is read as text (for <c>categorical: auto</c>) rather than refused.</summary>
    public bool InferTextColumns { get; init; }

    /// <summary>Whether the first column, whose header cell is empty (an index column saved by pandas), is left out.</summary>
    public bool DropIndexColumn { get; init; }

    /// <summary>True when the file is expected to start with a header row.</summary>
    public bool HasHeader => Header ?? Format == TabularFormat.Csv;
}
