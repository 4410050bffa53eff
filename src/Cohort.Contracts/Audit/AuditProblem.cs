namespace Cohort.Audit;

/// <summary>One thing wrong with a ledger, with where it is.</summary>
/// <param name="Line">The line of the ledger file (from 1); 0 for the file as a whole.</param>
/// <param name="Seq">The entry's sequence number as written, when the line could be read.</param>
/// <param name="Kind">altered, removed, reordered, forged, truncated, unreadable or unsigned.</param>
/// <param name="Message">The line to print, e.g. <c>entry 57: hash mismatch (altered)</c>.</param>
public sealed record AuditProblem(int Line, long? Seq, string Kind, string Message)
{
    /// <inheritdoc />
    public override string ToString() => Message;
}
