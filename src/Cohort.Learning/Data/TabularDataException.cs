namespace Cohort.Learning.Data;

/// <summary>A data file is malformed; the message starts with "file:line:" so the user can find the row.</summary>
internal sealed class TabularDataException : Exception
{
    /// <summary>Creates an error located at <paramref name="line"/> (1-based; 0 when it concerns the whole file).</summary>
    public TabularDataException(string source, int line, string message)
        : base(line > 0 ? $"{source}:{line}: {message}" : $"{source}: {message}")
    {
        DataSource = source;
        Line = line;
    }

    /// <summary>The file (or other source) the data came from.</summary>
    public string DataSource { get; }

    /// <summary>1-based line number, or 0 when the error concerns the whole file.</summary>
    public int Line { get; }
}
