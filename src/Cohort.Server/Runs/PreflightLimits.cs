namespace Cohort.Server.Runs;

/// <summary>Bounds on what one node's preflight answer may put into the submitter's error message.</summary>
internal static class PreflightLimits
{
    /// <summary>Most problems kept from one node.</summary>
    public const int MaxProblems = 32;

    /// <summary>Most problems one message reports, over all nodes.</summary>
    public const int MaxReported = 64;

    /// <summary>Longest problem kept, in characters.</summary>
    public const int MaxProblemLength = 500;

    /// <summary>A problem cut to <see cref="MaxProblemLength"/>, on one line.</summary>
    public static string Clip(string problem)
    {
        string line = problem.ReplaceLineEndings(" ").Trim();
        return line.Length > MaxProblemLength ? line[..MaxProblemLength] + "…" : line;
    }
}
