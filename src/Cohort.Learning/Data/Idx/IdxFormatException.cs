namespace Cohort.Learning.Data.Idx;

/// <summary>An IDX file is missing, corrupt or not what was expected; the message names the file.</summary>
internal sealed class IdxFormatException(string path, string problem)
    : Cohort.Apps.SiteDataException($"{path}: {problem}", $"{System.IO.Path.GetFileName(path)}: {problem}")
{
    /// <summary>The file at fault.</summary>
    public string Path { get; } = path;
}
