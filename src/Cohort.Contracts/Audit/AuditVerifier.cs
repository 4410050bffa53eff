namespace Cohort.Audit;

/// <summary>
/// Checks a ledger: every entry's hash against its fields (altered), the sequence (removed, reordered), each entry's
/// previous hash against the entry before it, each signature against the keys given (forged), that every entry is
/// covered by a signature (its own, a later entry's or the head's, through the chain), and the last entry against the
/// head (truncated).
/// </summary>
public static class AuditVerifier
{
    /// <summary>
    /// Verifies the lines of a ledger. <paramref name="keys"/>: the certificates trusted to sign it; null checks the chain
    /// only (a node's unsigned ledger) and then reports signed entries' signatures as unchecked only when a key is
    /// missing. <paramref name="head"/>: the ledger's head, when kept.
    /// </summary>
    public static AuditVerification Verify(IEnumerable<string> lines, AuditKeyRing? keys, AuditHead? head)
    {
        var problems = new List<AuditProblem>();
        var read = new List<(int Line, AuditEntry Entry)>();
        int lineNo = 0;
        foreach (string line in lines)
        {
            lineNo++;
            if (line.Length == 0) continue;
            try
            {
                read.Add((lineNo, AuditEntry.Parse(line)));
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                problems.Add(new AuditProblem(lineNo, null, "unreadable", $"line {lineNo}: unreadable entry ({e.Message}; truncated or altered)"));
            }
        }
        var present = read.Select(r => r.Entry.Seq).ToHashSet();
        var seen = new HashSet<long>();
        var keyIds = new SortedSet<string>(StringComparer.Ordinal);
        // Unsigned entries since the last valid signature: a later one (or the head's) covers them through the chain.
        var uncovered = new List<(int Line, long Seq)>();
        var notes = new List<AuditProblem>();
        AuditEntry? prev = null;
        foreach (var (line, e) in read)
        {
            string at = $"entry {e.Seq}";
            if (e.Key is { } key) keyIds.Add(key);
            if (e.RecomputeHash() != e.Hash)
            {
                problems.Add(new AuditProblem(line, e.Seq, "altered", $"{at}: hash mismatch (altered)"));
            }
            else if (keys is not null)
            {
                if (e.Sig is null && !AuditKinds.IsRoutine(e.Event.Kind))
                    problems.Add(new AuditProblem(line, e.Seq, "unsigned", $"{at}: a {e.Event.Kind} entry without a signature (only routine entries wait for a later one: forged or altered)"));
                else if (e.Sig is null)
                    uncovered.Add((line, e.Seq));
                else if (e.Key is null || !keys.Holds(e.Key))
                    problems.Add(new AuditProblem(line, e.Seq, "forged", $"{at}: signed by key {e.Key}, which is not among the trusted keys (forged or re-signed)"));
                else if (!keys.Verify(e.Key, e.Hash, e.Sig))
                    problems.Add(new AuditProblem(line, e.Seq, "forged", $"signature invalid at entry {e.Seq} (forged: altered and re-hashed without the key)"));
                else
                {
                    // A reopened ledger's first entries chain on whatever it found last; what a closed ledger's unsigned tail
                    // holds is vouched for by nobody who wrote it, so it is named rather than taken as covered.
                    if (uncovered.Count > 0 && e.Event.Kind is AuditKinds.LedgerOpened or AuditKinds.LedgerRepaired)
                        notes.Add(new AuditProblem(uncovered[0].Line, uncovered[0].Seq, "covered-at-reopen",
                            $"{Range(uncovered)}: covered only by the signature of entry {e.Seq} ({e.Event.Kind}), written when the ledger was reopened: the last routine entries before a crash, or added while it was closed"));
                    uncovered.Clear();
                }
            }
            if (!seen.Add(e.Seq))
            {
                problems.Add(new AuditProblem(line, e.Seq, "reordered", $"{at}: appears twice (copied or replayed)"));
                prev = e;
                continue;
            }
            if (prev is null)
            {
                if (e.Seq != 1 && !present.Contains(1))
                    problems.Add(new AuditProblem(line, e.Seq, "removed", e.Seq == 2 ? $"{at}: the ledger starts at entry {e.Seq}; entry 1 removed" : $"{at}: the ledger starts at entry {e.Seq}; entries 1–{e.Seq - 1} removed"));
                else if (e.Seq != 1)
                    problems.Add(new AuditProblem(line, e.Seq, "reordered", $"{at}: out of order at the start of the ledger (reordered)"));
                else if (e.PrevHash != AuditEntry.Genesis)
                    problems.Add(new AuditProblem(line, e.Seq, "removed", $"{at}: previous-hash mismatch (reordered or removed)"));
            }
            else
            {
                long expected = prev.Seq + 1;
                if (e.Seq == expected)
                {
                    if (e.PrevHash != prev.Hash) problems.Add(new AuditProblem(line, e.Seq, "reordered", $"{at}: previous-hash mismatch (reordered or removed)"));
                }
                else if (e.Seq < expected || Any(present, expected, e.Seq - 1))
                {
                    problems.Add(new AuditProblem(line, e.Seq, "reordered", $"{at}: out of order, follows entry {prev.Seq} (reordered)"));
                }
                else
                {
                    string removed = e.Seq - 1 == expected ? $"entry {expected}" : $"entries {expected}–{e.Seq - 1}";
                    problems.Add(new AuditProblem(line, e.Seq, "removed", $"{at}: sequence gap, {prev.Seq} → {e.Seq} ({removed} removed)"));
                }
            }
            prev = e;
        }
        long first = read.Count == 0 ? 0 : read.Min(r => r.Entry.Seq);
        long last = read.Count == 0 ? 0 : read.Max(r => r.Entry.Seq);
        bool truncated = false;
        if (head is not null && CheckHead(head, read, last, keys, problems) is var (headCovers, cut))
        {
            truncated = cut;
            if (headCovers) uncovered.RemoveAll(u => u.Seq <= head.Seq);
        }
        (long, long)? tail = null;
        // A tail cut off is reported as such above; what is left of it cannot be checked against the head.
        if (uncovered.Count > 0 && !truncated)
        {
            var (line, seq) = uncovered[0];
            long to = uncovered[^1].Seq;
            tail = (seq, to);
            problems.Add(new AuditProblem(line, seq, "unsigned",
                $"{Range(uncovered)}: no signature covers {(to == seq ? "it" : "them")} (written after the last signature and the last head: a ledger being written has up to a second of them, a crash leaves them until it is reopened; or {(to == seq ? "it was" : "they were")} altered)"));
        }
        return new AuditVerification(read.Count, first, last, keyIds.ToArray(), problems) { UncoveredTail = tail, Notes = notes };
    }

    // Whether the head's signature covers the entries up to its own (valid, and its entry is there with its hash), and
    // whether the ledger ends before the head's entry.
    private static (bool Covers, bool Truncated) CheckHead(AuditHead head, List<(int Line, AuditEntry Entry)> read, long last, AuditKeyRing? keys, List<AuditProblem> problems)
    {
        if (keys is not null && (head.Key is null || head.Sig is null || !keys.Verify(head.Key, head.Hash, head.Sig)))
        {
            problems.Add(new AuditProblem(0, head.Seq, "forged", $"head: signature invalid for entry {head.Seq} (the head was forged)"));
            return (false, false);
        }
        if (last < head.Seq)
        {
            string removed = last + 1 == head.Seq ? $"entry {head.Seq}" : $"entries {last + 1}–{head.Seq}";
            problems.Add(new AuditProblem(0, head.Seq, "truncated", $"entry {last + 1}: the ledger ends at entry {last} but its head records entry {head.Seq} ({removed} removed: truncated)"));
            return (false, true);
        }
        var match = read.FirstOrDefault(r => r.Entry.Seq == head.Seq).Entry;
        if (match is not null && match.Hash != head.Hash)
        {
            problems.Add(new AuditProblem(0, head.Seq, "altered", $"entry {head.Seq}: hash differs from the one its head records (rewritten)"));
            return (false, false);
        }
        return (keys is not null && match is not null, false);
    }

    private static string Range(List<(int Line, long Seq)> entries) => Range(entries[0].Seq, entries[^1].Seq);

    /// <summary>"entry N" or "entries N–M", as problems and notes name a run of entries.</summary>
    internal static string Range(long from, long to) => from == to ? $"entry {from}" : $"entries {from}–{to}";

    private static bool Any(HashSet<long> present, long from, long to) => present.Any(s => s >= from && s <= to);
}
