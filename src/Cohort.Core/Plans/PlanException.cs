namespace Cohort.Plans;

/// <summary>A plan that cannot be used; the message names the file, line and column and what is allowed.</summary>
public sealed class PlanException : Exception
{
    /// <summary>Creates the error; <paramref name="line"/> and <paramref name="column"/> are 1-based, 0 when unknown.</summary>
    public PlanException(string source, long line, long column, string problem)
        : base(line > 0 ? $"{source}:{line}:{column}: {problem}" : $"{source}: {problem}")
    {
        Source = source;
        Line = line;
        Column = column;
        Problem = problem;
    }

    /// <summary>File name (or "plan" for text without a file).</summary>
    public new string Source { get; }

    /// <summary>1-based line, 0 when unknown.</summary>
    public long Line { get; }

    /// <summary>1-based column, 0 when unknown.</summary>
    public long Column { get; }

    /// <summary>What is wrong, without the position.</summary>
    public string Problem { get; }
}
