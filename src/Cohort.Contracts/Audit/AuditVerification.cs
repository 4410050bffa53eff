namespace Cohort.Audit;

/// <summary>The outcome of checking a ledger: how many entries, which keys signed them, and every problem found.</summary>
public sealed record AuditVerification(int Entries, long FirstSeq, long LastSeq, IReadOnlyList<string> KeyIds, IReadOnlyList<AuditProblem> Problems)
{
    /// <summary>
    /// In a ledger still being written (verified with <c>live</c>), the last entries that no signature covers yet: the
    /// writer signs its head within a sync interval. Not a problem; null when there are none.
    /// </summary>
    public (long From, long To)? AwaitingSignature { get; init; }

    /// <summary>True when nothing is wrong.</summary>
    public bool Ok => Problems.Count == 0;
}
