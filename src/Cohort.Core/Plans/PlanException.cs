namespace Cohort.Plans;

/// <summary>A plan that cannot be used; the message names the file, line and column and what is allowed.</summary>
public sealed class PlanException : Exception
{
    private IReadOnlyList<PlanException>? _errors;

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

    /// <summary>
    /// Every problem found in the plan, in file order (this exception's own problem, the first one found, among them);
    /// just this one when reading had to stop at it.
    /// </summary>
    public IReadOnlyList<PlanException> Errors => _errors ?? [this];

    /// <summary>Every problem's message, one per line in file order: what a user is shown (the message alone names only the first).</summary>
    public string Report => string.Join('\n', Errors.Select(e => e.Message));

    /// <summary>
    /// One exception for several problems: its message is the first one's, so what matched on the first error still
    /// does; <see cref="Errors"/> lists them all in file order.
    /// </summary>
    internal static PlanException Of(IReadOnlyList<PlanException> found)
    {
        ArgumentOutOfRangeException.ThrowIfZero(found.Count);
        if (found.Count == 1) return found[0];
        var first = found[0];
        // Position 0 (the whole file) sorts first; OrderBy is stable, so ties keep the order found.
        return new PlanException(first.Source, first.Line, first.Column, first.Problem)
        {
            _errors = [.. found.OrderBy(e => e.Line).ThenBy(e => e.Column)],
        };
    }
}
