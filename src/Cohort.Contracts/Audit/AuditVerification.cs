namespace Cohort.Audit;

/// <summary>The outcome of checking a ledger: how many entries, which keys signed them, and every problem found.</summary>
public sealed record AuditVerification(int Entries, long FirstSeq, long LastSeq, IReadOnlyList<string> KeyIds, IReadOnlyList<AuditProblem> Problems)
{
    /// <summary>
    /// The routine entries at the end that no signature covers (also among <see cref="Problems"/>), or null. A ledger
    /// being written has up to a sync interval of them: the writer's next signed head covers them.
    /// </summary>
    public (long From, long To)? UncoveredTail { get; init; }

    /// <summary>What is worth knowing but not wrong: unsigned entries covered only by the signature of a reopening.</summary>
    public IReadOnlyList<AuditProblem> Notes { get; init; } = [];

    /// <summary>True when nothing is wrong.</summary>
    public bool Ok => Problems.Count == 0;
}
