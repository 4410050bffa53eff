namespace Cohort.Audit;

/// <summary>
/// A site's check of the server's account against its own: the tasks the server's ledger says it sent to a node
/// and the results it says it received from it, against what the node's ledger says it received and sent, with the
/// digests of the parameters on both sides.
/// </summary>
public static class AuditComparison
{
    /// <summary>What the comparison found: tasks matched and every disagreement.</summary>
    public sealed record Outcome(int TasksMatched, int ResultsMatched, IReadOnlyList<string> Findings)
    {
        /// <summary>True when both ledgers tell the same story.</summary>
        public bool Agree => Findings.Count == 0;
    }

    /// <summary>Compares <paramref name="server"/>'s entries about <paramref name="node"/> with the node's own, optionally for one run.</summary>
    public static Outcome Compare(IEnumerable<AuditEntry> server, IEnumerable<AuditEntry> nodeLedger, string node, string? run = null)
    {
        bool InScope(AuditEntry e) => e.Event.Task is not null && (run is null || e.Event.Run == run);
        var serverEntries = server.Where(e => InScope(e) && e.Event.Node == node).ToList();
        var nodeEntries = nodeLedger.Where(InScope).ToList();
        var findings = new List<string>();
        int tasks = Match(
            serverEntries.Where(e => e.Event.Kind == AuditKinds.TaskSent),
            nodeEntries.Where(e => e.Event.Kind == AuditKinds.TaskReceived),
            "the server records sending it, the node has no record of receiving it",
            "the node records receiving it, the server has no record of sending it",
            "server sent", "node received", findings);
        int results = Match(
            serverEntries.Where(e => e.Event.Kind is AuditKinds.ResultAccepted or AuditKinds.ResultRejected or AuditKinds.ResultFailed),
            nodeEntries.Where(e => e.Event.Kind == AuditKinds.ResultSent),
            "the server records a result from the node, the node has no record of sending one",
            "the node records sending a result, the server has no record of receiving it",
            "server received", "node sent", findings);
        return new Outcome(tasks, results, findings);
    }

    private static int Match(
        IEnumerable<AuditEntry> serverSide, IEnumerable<AuditEntry> nodeSide, string onlyServer, string onlyNode,
        string serverVerb, string nodeVerb, List<string> findings)
    {
        var byServer = serverSide.GroupBy(e => e.Event.Task!).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var byNode = nodeSide.GroupBy(e => e.Event.Task!).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        int matched = 0;
        foreach (var (task, entries) in byServer.OrderBy(kv => kv.Value[0].Seq))
        {
            var first = entries[0];
            byNode.TryGetValue(task, out var theirs);
            string what = Describe(task, entries.Concat(theirs ?? []));
            if (theirs is null)
            {
                findings.Add($"{what}: {onlyServer} (server entry {first.Seq})");
                continue;
            }
            // A result the server refused before reading its parameters (unknown task, wrong node) has no digest to compare.
            var compared = entries.Where(e => !(e.Event.Kind == AuditKinds.ResultRejected && e.Event.Digest is null)).ToList();
            if (compared.Count == 0)
            {
                matched++;
                continue;
            }
            var ours = compared.Select(e => e.Event.Digest ?? "-").ToHashSet(StringComparer.Ordinal);
            var other = theirs.Select(e => e.Event.Digest ?? "-").ToHashSet(StringComparer.Ordinal);
            if (!ours.SetEquals(other))
            {
                findings.Add($"{what}: parameters differ: {serverVerb} {string.Join(", ", ours.Select(Short))} (server entry {first.Seq}), {nodeVerb} {string.Join(", ", other.Select(Short))} (node entry {theirs[0].Seq})");
                continue;
            }
            matched++;
        }
        foreach (var (task, entries) in byNode.OrderBy(kv => kv.Value[0].Seq))
        {
            if (byServer.ContainsKey(task)) continue;
            findings.Add($"{Describe(task, entries)}: {onlyNode} (node entry {entries[0].Seq})");
        }
        return matched;
    }

    private static string Describe(string task, IEnumerable<AuditEntry> entries)
    {
        var known = entries.FirstOrDefault(e => e.Event.Run is not null)?.Event;
        return known is null ? $"task {task}" : $"task {task} (run {known.Run}, round {known.Round})";
    }

    private static string Short(string digest) => digest == "-" ? "no parameters" : $"sha256 {digest[..Math.Min(12, digest.Length)]}…";
}
