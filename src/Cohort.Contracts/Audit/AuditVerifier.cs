namespace Cohort.Audit;

/// <summary>
/// Checks a ledger: every entry's hash against its fields (altered), the sequence (removed, reordered), each entry's
/// previous hash against the entry before it, each signature against the keys given (forged), and the last entry
/// against the head (truncated).
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
                if (e.Key is null || e.Sig is null)
                    problems.Add(new AuditProblem(line, e.Seq, "unsigned", $"{at}: no signature in a signed ledger (forged or altered)"));
                else if (!keys.Holds(e.Key))
                    problems.Add(new AuditProblem(line, e.Seq, "forged", $"{at}: signed by key {e.Key}, which is not among the trusted keys (forged or re-signed)"));
                else if (!keys.Verify(e.Key, e.Hash, e.Sig))
                    problems.Add(new AuditProblem(line, e.Seq, "forged", $"signature invalid at entry {e.Seq} (forged: altered and re-hashed without the key)"));
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
        if (head is not null) CheckHead(head, read, last, keys, problems);
        return new AuditVerification(read.Count, first, last, keyIds.ToArray(), problems);
    }

    private static void CheckHead(AuditHead head, List<(int Line, AuditEntry Entry)> read, long last, AuditKeyRing? keys, List<AuditProblem> problems)
    {
        if (keys is not null && (head.Key is null || head.Sig is null || !keys.Verify(head.Key, head.Hash, head.Sig)))
        {
            problems.Add(new AuditProblem(0, head.Seq, "forged", $"head: signature invalid for entry {head.Seq} (the head was forged)"));
            return;
        }
        if (last < head.Seq)
        {
            string removed = last + 1 == head.Seq ? $"entry {head.Seq}" : $"entries {last + 1}–{head.Seq}";
            problems.Add(new AuditProblem(0, head.Seq, "truncated", $"entry {last + 1}: the ledger ends at entry {last} but its head records entry {head.Seq} ({removed} removed: truncated)"));
            return;
        }
        var match = read.FirstOrDefault(r => r.Entry.Seq == head.Seq).Entry;
        if (match is not null && match.Hash != head.Hash)
            problems.Add(new AuditProblem(0, head.Seq, "altered", $"entry {head.Seq}: hash differs from the one its head records (rewritten)"));
    }

    private static bool Any(HashSet<long> present, long from, long to) => present.Any(s => s >= from && s <= to);
}
