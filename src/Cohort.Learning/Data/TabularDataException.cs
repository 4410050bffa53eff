using Cohort.Apps;

namespace Cohort.Learning.Data;

/// <summary>
/// A data file is malformed. The message starts with "file:line:" so the user can find the row, and may
/// quote the row's values; what goes to a server (<see cref="SiteDataException.SharedMessage"/>) names the
/// file by its name only, without the line or any value.
/// </summary>
internal sealed class TabularDataException : SiteDataException
{
    /// <summary>
    /// Creates an error located at <paramref name="line"/> (1-based; 0 when it concerns the whole file).
    /// <paramref name="shared"/> is <paramref name="message"/> without the values it quotes; null when it quotes none.
    /// </summary>
    public TabularDataException(string source, int line, string message, string? shared = null)
        : base(line > 0 ? $"{source}:{line}: {message}" : $"{source}: {message}", $"{Path.GetFileName(source)}: {shared ?? message}")
    {
        DataSource = source;
        Line = line;
    }

    /// <summary>The file (or other source) the data came from.</summary>
    public string DataSource { get; }

    /// <summary>1-based line number, or 0 when the error concerns the whole file.</summary>
    public int Line { get; }
}
