namespace Cohort.Learning.Data.Idx;

/// <summary>
/// An IDX file is missing, corrupt or not what was expected; the message names the file. What the server may see
/// names the file only, not its folder, with <paramref name="sharedProblem"/> in place of a problem that quotes
/// values or paths.
/// </summary>
internal sealed class IdxFormatException(string path, string problem, string? sharedProblem = null)
    : Cohort.Apps.SiteDataException($"{path}: {problem}", $"{System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(path))}: {sharedProblem ?? problem}")
{
    /// <summary>The file at fault.</summary>
    public string Path { get; } = path;
}
