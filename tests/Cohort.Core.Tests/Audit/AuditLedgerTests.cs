using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cohort.Audit;

namespace Cohort.Core.Tests.Audit;

/// <summary>A ledger written, then altered in every way an intruder might, and each change found at its entry.</summary>
public sealed class AuditLedgerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cohort-audit-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string LedgerFile => Path.Combine(_dir, AuditLedger.FileName);

    // Entry 1 is ledger.opened; entries 2..21 are the events.
    private void Write(int events = 20, AuditSigner? signer = null)
    {
        using var ledger = AuditLedger.Open(_dir, signer ?? AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test");
        for (int i = 1; i <= events; i++)
            ledger.Append(new AuditEvent(AuditKinds.TaskSent, "server", $"task {i} sent") { Run = "run-1", Round = i, Node = "site-a", Task = $"t{i}", Digest = new string('a', 64) });
    }

    private AuditVerification Verify(string[]? lines = null, bool withHead = true)
    {
        var keys = AuditKeyRing.Load(Path.Combine(_dir, AuditLedger.KeysFileName));
        var head = withHead ? AuditHead.Parse(File.ReadAllText(Path.Combine(_dir, AuditLedger.HeadFileName))) : null;
        return AuditVerifier.Verify(lines ?? File.ReadAllLines(LedgerFile), keys, head);
    }

    private static string Only(AuditVerification v) => Assert.Single(v.Problems).Message;

    [Fact]
    public void An_untouched_ledger_verifies_and_a_reopened_one_continues_its_chain()
    {
        Write(5);
        Write(5);
        var v = Verify();
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        Assert.Equal(12, v.Entries);
        Assert.Equal(12, v.LastSeq);
        Assert.Equal(2, File.ReadAllLines(LedgerFile).Count(l => l.Contains("\"ledger.opened\"")));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(LedgerFile));
    }

    [Fact]
    public void An_altered_detail_is_a_hash_mismatch_at_its_entry()
    {
        Write();
        var lines = File.ReadAllLines(LedgerFile);
        lines[6] = lines[6].Replace("task 6 sent", "task 6 never sent");
        Assert.Equal("entry 7: hash mismatch (altered)", Only(Verify(lines)));
    }

    [Fact]
    public void A_deleted_line_is_a_sequence_gap_naming_the_removed_entry()
    {
        Write();
        var lines = File.ReadAllLines(LedgerFile).Where((_, i) => i != 9).ToArray();
        Assert.Equal("entry 11: sequence gap, 9 → 11 (entry 10 removed)", Only(Verify(lines)));
    }

    [Fact]
    public void Two_swapped_lines_are_reported_as_reordered_where_the_order_breaks()
    {
        Write();
        var lines = File.ReadAllLines(LedgerFile);
        (lines[4], lines[5]) = (lines[5], lines[4]);
        var v = Verify(lines);
        Assert.Equal("entry 6: out of order, follows entry 4 (reordered)", v.Problems[0].Message);
        Assert.All(v.Problems, p => Assert.Equal("reordered", p.Kind));
        Assert.Contains(v.Problems, p => p.Seq == 5);
    }

    [Fact]
    public void Renumbered_entries_after_a_removal_break_the_previous_hash_link()
    {
        Write();
        var entries = File.ReadAllLines(LedgerFile).Select(AuditEntry.Parse).ToList();
        entries.RemoveAt(11);
        // An intruder without the key renumbers the rest: hashes and signatures are theirs to recompute only as far as the hash.
        var lines = entries.Select(e => e.Seq > 12 ? Rehash(e with { Seq = e.Seq - 1 }) : e.ToJson()).ToArray();
        var v = Verify(lines, withHead: false);
        Assert.Equal("entry 12: previous-hash mismatch (reordered or removed)", v.Problems.First(p => p.Kind != "forged").Message);
    }

    [Fact]
    public void A_hash_forged_without_the_key_fails_its_signature()
    {
        Write();
        var lines = File.ReadAllLines(LedgerFile);
        var e = AuditEntry.Parse(lines[2]);
        lines[2] = Rehash(e with { Event = e.Event with { Detail = "nothing happened" } });
        var v = Verify(lines);
        Assert.Equal("signature invalid at entry 3 (forged: altered and re-hashed without the key)", v.Problems[0].Message);
        Assert.Equal("entry 4: previous-hash mismatch (reordered or removed)", v.Problems[1].Message);
    }

    [Fact]
    public void A_ledger_rewritten_with_another_key_is_refused_by_the_pinned_keys()
    {
        Write();
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = new CertificateRequest("CN=intruder", ecdsa, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var signer = new AuditSigner(other);
        string prev = AuditEntry.Genesis;
        var lines = new List<string>();
        foreach (var e in File.ReadAllLines(LedgerFile).Select(AuditEntry.Parse))
        {
            string hash = AuditEntry.ComputeHash(e.Seq, e.Time, e.Event, signer.KeyId, prev);
            lines.Add((e with { Key = signer.KeyId, PrevHash = prev, Hash = hash, Sig = signer.Sign(hash) }).ToJson());
            prev = hash;
        }
        var v = Verify(lines.ToArray(), withHead: false);
        Assert.Equal(21, v.Problems.Count);
        Assert.StartsWith($"entry 1: signed by key {signer.KeyId}, which is not among the trusted keys", v.Problems[0].Message);
    }

    [Fact]
    public void Removed_last_entries_are_found_through_the_head()
    {
        Write();
        var lines = File.ReadAllLines(LedgerFile)[..^3];
        Assert.Equal("entry 19: the ledger ends at entry 18 but its head records entry 21 (entries 19–21 removed: truncated)", Only(Verify(lines)));
    }

    [Fact]
    public void A_line_cut_in_the_middle_is_unreadable_and_the_head_names_what_is_missing()
    {
        Write();
        var lines = File.ReadAllLines(LedgerFile);
        lines[^1] = lines[^1][..40];
        var v = Verify(lines);
        Assert.StartsWith("line 21: unreadable entry", v.Problems[0].Message);
        Assert.Equal("entry 21: the ledger ends at entry 20 but its head records entry 21 (entry 21 removed: truncated)", v.Problems[1].Message);
    }

    [Fact]
    public void A_torn_last_line_from_a_crash_is_cut_off_and_recorded_when_the_ledger_reopens()
    {
        Write(3);
        File.AppendAllText(LedgerFile, "{\"seq\":5,\"time\":\"2026");
        Write(1);
        var v = Verify();
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        Assert.Contains(File.ReadAllLines(LedgerFile), l => l.Contains("\"ledger.repaired\"") && l.Contains("torn last line of 21 bytes after entry 4"));
    }

    [Fact]
    public void An_unsigned_ledger_is_checked_as_a_chain()
    {
        using (var ledger = AuditLedger.Open(_dir, null, "node:site-a"))
        {
            for (int i = 0; i < 5; i++) ledger.Append(new AuditEvent(AuditKinds.TaskReceived, "server:x", "fit task received") { Task = $"t{i}" });
        }
        var lines = File.ReadAllLines(LedgerFile);
        Assert.True(AuditVerifier.Verify(lines, null, null).Ok);
        Assert.DoesNotContain("\"sig\"", lines[1]);
        Assert.Equal("entry 4: sequence gap, 2 → 4 (entry 3 removed)", Assert.Single(AuditVerifier.Verify(lines.Where((_, i) => i != 2), null, null).Problems).Message);
    }

    [Fact]
    public void A_second_process_cannot_append_to_an_open_ledger()
    {
        using var first = AuditLedger.Open(_dir, null, "one");
        var e = Assert.Throws<IOException>(() => AuditLedger.Open(_dir, null, "two"));
        Assert.Contains("in use by another process", e.Message);
    }

    [Fact]
    public void Comparison_matches_tasks_by_id_and_digest_and_names_what_one_side_lacks()
    {
        AuditEntry E(long seq, string kind, string task, string? digest, string node = "site-a") => new()
        {
            Seq = seq,
            Time = DateTimeOffset.UnixEpoch,
            Event = new AuditEvent(kind, "x", "d") { Run = "r", Round = 1, Node = node, Task = task, Digest = digest },
            PrevHash = AuditEntry.Genesis,
            Hash = AuditEntry.Genesis,
        };
        var server = new[]
        {
            E(1, AuditKinds.TaskSent, "t1", "aa"), E(2, AuditKinds.ResultAccepted, "t1", "bb"),
            E(3, AuditKinds.TaskSent, "t2", "aa"), E(4, AuditKinds.TaskSent, "t3", "aa"), E(5, AuditKinds.TaskSent, "t9", "aa", node: "site-b"),
        };
        var node = new[]
        {
            E(1, AuditKinds.TaskReceived, "t1", "aa"), E(2, AuditKinds.ResultSent, "t1", "bb"),
            E(3, AuditKinds.TaskReceived, "t2", "cc"), E(4, AuditKinds.ResultSent, "t2", "dd"),
        };
        var outcome = AuditComparison.Compare(server, node, "site-a");
        Assert.Equal(1, outcome.TasksMatched);
        Assert.Equal(1, outcome.ResultsMatched);
        Assert.Equal(
        [
            "task t2 (run r, round 1): parameters differ: server sent sha256 aa… (server entry 3), node received sha256 cc… (node entry 3)",
            "task t3 (run r, round 1): the server records sending it, the node has no record of receiving it (server entry 4)",
            "task t2 (run r, round 1): the node records sending a result, the server has no record of receiving it (node entry 4)",
        ], outcome.Findings);
    }

    private static string Rehash(AuditEntry e) => (e with { Hash = e.RecomputeHash() }).ToJson();
}
