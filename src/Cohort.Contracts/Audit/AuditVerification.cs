namespace Cohort.Audit;

/// <summary>The outcome of checking a ledger: how many entries, which keys signed them, and every problem found.</summary>
public sealed record AuditVerification(int Entries, long FirstSeq, long LastSeq, IReadOnlyList<string> KeyIds, IReadOnlyList<AuditProblem> Problems)
{
    /// <summary>True when nothing is wrong.</summary>
    public bool Ok => Problems.Count == 0;
}
