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

    // Entry 1 is ledger.opened; entries 2..21 are the events (routine: signed at most once per sign spacing).
    private void Write(int events = 20, AuditSigner? signer = null, TimeSpan? signSpacing = null)
    {
        using var ledger = AuditLedger.Open(_dir, signer ?? AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test", signSpacing: signSpacing);
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
    public void A_line_is_the_entry_as_a_json_writer_writes_it_and_reads_back_to_the_same_hash()
    {
        // Characters a writer escapes (quotes, '+', '<', non-ASCII, a control character) in every string field that has them.
        var e = new AuditEvent("run.submitted", "user:\"ana\" <ops>", "plan ≥ 2 rounds + evaluation…\n\u0001end") { Run = "run+1", Round = 7, Node = "site-ü", Task = "t/1", Digest = "ab" };
        using (var ledger = AuditLedger.Open(_dir, AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test")) ledger.Append(e);
        string line = File.ReadAllLines(LedgerFile)[1];
        var entry = AuditEntry.Parse(line);
        Assert.Equal(e, entry.Event);
        Assert.Equal(entry.Hash, entry.RecomputeHash());
        Assert.NotNull(entry.Sig);
        // The oracle: the same members written by one Utf8JsonWriter, as the ledger's format was first written.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", entry.Seq);
            w.WriteString("time", AuditEntry.FormatTime(entry.Time));
            w.WriteString("kind", e.Kind);
            w.WriteString("actor", e.Actor);
            w.WriteString("run", e.Run);
            w.WriteNumber("round", 7);
            w.WriteString("node", e.Node);
            w.WriteString("task", e.Task);
            w.WriteString("detail", e.Detail);
            w.WriteString("digest", e.Digest);
            w.WriteString("key", entry.Key);
            w.WriteString("prev_hash", entry.PrevHash);
            w.WriteString("hash", entry.Hash);
            w.WriteString("sig", entry.Sig);
            w.WriteEndObject();
        }
        Assert.Equal(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan), line);
        Assert.Equal(line, entry.ToJson());
        Assert.Contains("\\u002B", line);
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
        Write(signSpacing: TimeSpan.Zero);
        var lines = File.ReadAllLines(LedgerFile);
        var e = AuditEntry.Parse(lines[2]);
        lines[2] = Rehash(e with { Event = e.Event with { Detail = "nothing happened" } });
        var v = Verify(lines);
        Assert.Equal("signature invalid at entry 3 (forged: altered and re-hashed without the key)", v.Problems[0].Message);
        Assert.Equal("entry 4: previous-hash mismatch (reordered or removed)", v.Problems[1].Message);
    }

    [Fact]
    public void Routine_entries_are_signed_at_most_once_per_spacing_and_the_others_at_once()
    {
        using (var ledger = AuditLedger.Open(_dir, AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test", signSpacing: TimeSpan.FromHours(1)))
        {
            for (int i = 1; i <= 4; i++) ledger.Append(new AuditEvent(AuditKinds.TaskSent, "server", $"task {i} sent") { Task = $"t{i}" });
            ledger.Append(new AuditEvent(AuditKinds.TokenCreated, "admin", "token for site-b"));
            for (int i = 5; i <= 7; i++) ledger.Append(new AuditEvent(AuditKinds.ResultAccepted, "node:site-a", "result accepted") { Task = $"t{i}" });
        }
        var entries = File.ReadAllLines(LedgerFile).Select(AuditEntry.Parse).ToList();
        // ledger.opened and token.created signed; the routine entries between and after them are not, each names the key.
        Assert.Equal([1L, 6L], entries.Where(e => e.Sig is not null).Select(e => e.Seq));
        Assert.All(entries, e => Assert.NotNull(e.Key));
        // The head, written when the ledger closed, is signed and covers the last three.
        var head = AuditHead.Parse(File.ReadAllText(Path.Combine(_dir, AuditLedger.HeadFileName)));
        Assert.Equal(9, head.Seq);
        Assert.NotNull(head.Sig);
        var v = Verify();
        Assert.True(v.Ok, string.Join("\n", v.Problems));
    }

    [Fact]
    public void An_unsigned_entry_rehashed_up_to_a_later_signature_fails_that_signature()
    {
        using (var ledger = AuditLedger.Open(_dir, AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test", signSpacing: TimeSpan.FromHours(1)))
        {
            for (int i = 1; i <= 4; i++) ledger.Append(new AuditEvent(AuditKinds.TaskSent, "server", $"task {i} sent") { Task = $"t{i}" });
            ledger.Append(new AuditEvent(AuditKinds.RunStopped, "admin", "run stopped"));
            ledger.Append(new AuditEvent(AuditKinds.TaskSent, "server", "task 5 sent") { Task = "t5" });
        }
        // An intruder without the key edits entry 3 (unsigned) and recomputes every hash after it up to the signed entry 6.
        var entries = File.ReadAllLines(LedgerFile).Select(AuditEntry.Parse).ToList();
        string prev = entries[1].Hash;
        var lines = entries.Select(e => e.ToJson()).ToArray();
        for (int i = 2; i <= 5; i++)
        {
            var e = entries[i] with { PrevHash = prev };
            if (i == 2) e = e with { Event = e.Event with { Detail = "nothing sent" } };
            e = e with { Hash = e.RecomputeHash() };
            lines[i] = e.ToJson();
            prev = e.Hash;
        }
        var v = Verify(lines, withHead: false);
        Assert.Equal("signature invalid at entry 6 (forged: altered and re-hashed without the key)", v.Problems[0].Message);
        // Rehashing to the end instead, with entry 6's signature stripped: nothing signed is left in the way but the head.
        prev = entries[1].Hash;
        for (int i = 2; i < entries.Count; i++)
        {
            var e = entries[i] with { PrevHash = prev, Sig = null };
            if (i == 2) e = e with { Event = e.Event with { Detail = "nothing sent" } };
            e = e with { Hash = e.RecomputeHash() };
            lines[i] = e.ToJson();
            prev = e.Hash;
        }
        var withHead = Verify(lines).Problems.Select(p => p.Message).ToList();
        Assert.Contains("entry 6: a run.stopped entry without a signature (only routine entries wait for a later one: forged or altered)", withHead);
        Assert.Contains("entry 7: hash differs from the one its head records (rewritten)", withHead);
        // And without the head, the rewritten entries are named as covered by no signature.
        Assert.Contains(Verify(lines, withHead: false).Problems, p => p.Message.StartsWith("entries 2–7: no signature covers them", StringComparison.Ordinal));
    }

    [Fact]
    public void A_crash_leaves_an_unsigned_tail_that_verify_names_and_the_next_open_covers()
    {
        string crashed = _dir + "-crashed";
        try
        {
            using (var ledger = AuditLedger.Open(_dir, AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test", syncInterval: TimeSpan.FromHours(1), signSpacing: TimeSpan.FromHours(1)))
            {
                for (int i = 1; i <= 5; i++) ledger.Append(new AuditEvent(AuditKinds.TaskSent, "server", $"task {i} sent") { Task = $"t{i}" });
                // What a crash leaves: every append reached the file, no sync has run (no head), the key stays beside it.
                Directory.CreateDirectory(crashed);
                foreach (string name in new[] { AuditLedger.FileName, AuditLedger.KeysFileName, "audit-signing.crt", "audit-signing.key" })
                    File.Copy(Path.Combine(_dir, name), Path.Combine(crashed, name));
            }
            var keys = AuditKeyRing.Load(Path.Combine(crashed, AuditLedger.KeysFileName));
            var v = AuditVerifier.Verify(File.ReadAllLines(Path.Combine(crashed, AuditLedger.FileName)), keys, null);
            var problem = Assert.Single(v.Problems);
            Assert.Equal("unsigned", problem.Kind);
            Assert.StartsWith("entries 2–6: no signature covers them", problem.Message);
            Assert.Equal((2L, 6L), v.UncoveredTail);
            // Reopened (the server restarting): ledger.opened is signed and covers the tail through the chain, which verify
            // names: nobody who wrote those entries vouched for them.
            using (AuditLedger.Open(crashed, AuditSigner.LoadOrCreateDedicated(crashed, "test ledger"), "test"))
            {
            }
            var reopened = AuditVerifier.Verify(File.ReadAllLines(Path.Combine(crashed, AuditLedger.FileName)), keys,
                AuditHead.Parse(File.ReadAllText(Path.Combine(crashed, AuditLedger.HeadFileName))));
            Assert.True(reopened.Ok, string.Join("\n", reopened.Problems));
            Assert.Equal(7, reopened.LastSeq);
            var note = Assert.Single(reopened.Notes);
            Assert.Equal("covered-at-reopen", note.Kind);
            Assert.StartsWith("entries 2–6: covered only by the signature of entry 7 (ledger.opened)", note.Message);
        }
        finally
        {
            if (Directory.Exists(crashed)) Directory.Delete(crashed, recursive: true);
        }
    }

    [Fact]
    public async Task Appends_and_syncs_on_other_threads_leave_a_ledger_that_verifies_against_its_head()
    {
        long lastCovered = 0;
        using (var ledger = AuditLedger.Open(_dir, AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test", syncInterval: TimeSpan.FromMilliseconds(5), signSpacing: TimeSpan.FromMilliseconds(1)))
        {
            var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
            {
                for (int i = 0; i < 250; i++) ledger.Append(new AuditEvent(AuditKinds.ResultAccepted, $"node:n{w}", "result accepted") { Task = $"t{w}-{i}" });
            })).ToArray();
            var reader = Task.Run(() =>
            {
                // Each sync's length ends on a whole line: the lines up to it are covered by the head written then.
                for (int i = 0; i < 50; i++)
                {
                    long covered = ledger.SyncForReading();
                    var head = AuditHead.Parse(File.ReadAllText(Path.Combine(_dir, AuditLedger.HeadFileName)));
                    var lines = ReadPrefix(covered);
                    Assert.True(lines.Length == 0 || AuditEntry.Parse(lines[^1]).Seq <= head.Seq);
                    lastCovered = covered;
                }
            });
            await Task.WhenAll(writers.Append(reader));
        }
        var v = Verify();
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        Assert.Equal(1001, v.LastSeq);
        Assert.True(lastCovered > 0);
    }

    private string[] ReadPrefix(long bytes)
    {
        using var stream = new FileStream(LedgerFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var buffer = new byte[bytes];
        stream.ReadExactly(buffer);
        Assert.True(bytes == 0 || buffer[^1] == (byte)'\n');
        return System.Text.Encoding.UTF8.GetString(buffer).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void An_entry_that_is_not_routine_must_carry_its_own_signature()
    {
        using (var ledger = AuditLedger.Open(_dir, AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test", signSpacing: TimeSpan.FromHours(1)))
        {
            ledger.Append(new AuditEvent(AuditKinds.TaskSent, "server", "task 1 sent") { Task = "t1" });
            ledger.Append(new AuditEvent(AuditKinds.TokenCreated, "admin", "token for site-b"));
            ledger.Append(new AuditEvent(AuditKinds.TaskSent, "server", "task 2 sent") { Task = "t2" });
        }
        // Its signature stripped (the hash does not cover it): a later signature still covers the entry, but the writer
        // signs every such entry, so one without is named.
        var lines = File.ReadAllLines(LedgerFile);
        lines[2] = (AuditEntry.Parse(lines[2]) with { Sig = null }).ToJson();
        Assert.Equal("entry 3: a token.created entry without a signature (only routine entries wait for a later one: forged or altered)", Only(Verify(lines)));
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
    public void An_event_with_a_task_id_of_100000_characters_appends_a_bounded_line_and_the_ledger_reopens_and_verifies()
    {
        AuditEntry entry;
        using (var ledger = AuditLedger.Open(_dir, AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test"))
            entry = ledger.Append(new AuditEvent(AuditKinds.ResultRejected, "node:site-a", "result rejected: unknown task") { Run = "run-1", Round = 1, Node = "site-a", Task = new string('A', 100_000) });
        Assert.Equal(new string('A', AuditLedger.MaxNameLength) + "…", entry.Event.Task);
        string line = File.ReadAllLines(LedgerFile)[1];
        Assert.True(line.Length < 2_000, $"a line of {line.Length} bytes");
        Assert.Equal(entry.Event, AuditEntry.Parse(line).Event);
        Write(1);
        var v = Verify();
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        Assert.Equal(4, v.LastSeq);
    }

    [Fact]
    public void Every_string_field_is_cut_at_its_cap_so_a_line_stays_within_the_bound_however_it_escapes()
    {
        // A control character is the longest a character escapes to (\u0001, 6 bytes); every field far over its cap.
        string hostile = new('\u0001', 100_000);
        var e = new AuditEvent(hostile, hostile, hostile) { Run = hostile, Round = int.MinValue, Node = hostile, Task = hostile, Digest = hostile };
        using (var ledger = AuditLedger.Open(_dir, AuditSigner.LoadOrCreateDedicated(_dir, "test ledger"), "test"))
            ledger.Append(e);
        string line = File.ReadAllLines(LedgerFile)[1];
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(line) + 1, AuditLedger.MaxLineBytes - 4096, AuditLedger.MaxLineBytes);
        var kept = AuditEntry.Parse(line).Event;
        Assert.Equal(AuditLedger.MaxNameLength + 1, kept.Task!.Length);
        Assert.Equal(AuditLedger.MaxDigestLength + 1, kept.Digest!.Length);
        Assert.Equal(AuditLedger.MaxDetailLength + 1, kept.Detail.Length);
        Assert.All(new[] { kept.Kind, kept.Actor, kept.Run!, kept.Node! }, s => Assert.Equal(AuditLedger.MaxNameLength + 1, s.Length));
        Assert.True(Verify().Ok);
    }

    [Fact]
    public void A_cut_never_splits_a_surrogate_pair_and_an_event_within_the_caps_is_kept_as_it_is()
    {
        var within = new AuditEvent(AuditKinds.TaskSent, "server", new string('d', AuditLedger.MaxDetailLength)) { Task = new string('t', AuditLedger.MaxNameLength), Digest = new string('a', 64) };
        Assert.Same(within, AuditLedger.Bounded(within));
        var emoji = new AuditEvent(AuditKinds.TaskSent, "server", "sent") { Task = new string('t', AuditLedger.MaxNameLength - 1) + "😀😀" };
        Assert.Equal(new string('t', AuditLedger.MaxNameLength - 1) + "…", AuditLedger.Bounded(emoji).Task);
    }

    // What a server before the caps wrote for a hostile node: a correctly chained and signed entry of any length.
    private void AppendAsAnOldServerDid(AuditEvent e)
    {
        var signer = AuditSigner.LoadOrCreateDedicated(_dir, "test ledger");
        var last = AuditEntry.Parse(File.ReadLines(LedgerFile).Last());
        var time = DateTimeOffset.UtcNow;
        string hash = AuditEntry.ComputeHash(last.Seq + 1, time, e, signer.KeyId, last.Hash);
        var entry = new AuditEntry { Seq = last.Seq + 1, Time = time, Event = e, Key = signer.KeyId, PrevHash = last.Hash, Hash = hash, Sig = signer.Sign(hash) };
        File.AppendAllText(LedgerFile, entry.ToJson() + "\n");
    }

    [Fact]
    public void A_ledger_whose_last_lines_are_longer_than_the_first_window_reopens_and_continues_its_chain()
    {
        Write(3);
        AppendAsAnOldServerDid(new AuditEvent(AuditKinds.ResultRejected, "node:site-a", "result rejected") { Task = new string('A', 200_000) });
        AppendAsAnOldServerDid(new AuditEvent(AuditKinds.ResultRejected, "node:site-a", "result rejected") { Task = new string('B', 200_000) });
        Assert.True(File.ReadAllLines(LedgerFile)[^1].Length > 200_000);
        Write(1);
        var v = Verify();
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        Assert.Equal(8, v.LastSeq);
        var reopened = AuditEntry.Parse(File.ReadAllLines(LedgerFile)[6]);
        Assert.Equal((7L, AuditKinds.LedgerOpened), (reopened.Seq, reopened.Event.Kind));
    }

    [Fact]
    public void A_torn_line_longer_than_the_first_window_after_a_long_entry_is_cut_off_and_recorded()
    {
        Write(3);
        AppendAsAnOldServerDid(new AuditEvent(AuditKinds.ResultRejected, "node:site-a", "result rejected") { Task = new string('A', 200_000) });
        string torn = "{\"seq\":6,\"time\":\"2026\",\"kind\":\"result.rejected\",\"task\":\"" + new string('B', 100_000);
        File.AppendAllText(LedgerFile, torn);
        Write(1);
        var v = Verify();
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        Assert.Contains(File.ReadAllLines(LedgerFile), l => l.Contains("\"ledger.repaired\"") && l.Contains($"torn last line of {torn.Length} bytes after entry 5"));
    }

    [Fact]
    public void A_ledger_holding_only_a_torn_line_longer_than_the_first_window_starts_again_at_entry_1()
    {
        Directory.CreateDirectory(_dir);
        string torn = "{\"seq\":1,\"time\":\"2026\",\"detail\":\"" + new string('B', 100_000);
        File.WriteAllText(LedgerFile, torn);
        Write(0);
        var entries = File.ReadAllLines(LedgerFile).Select(AuditEntry.Parse).ToList();
        Assert.Equal([AuditKinds.LedgerRepaired, AuditKinds.LedgerOpened], entries.Select(e => e.Event.Kind));
        Assert.Contains($"torn last line of {torn.Length} bytes after entry 0", entries[0].Event.Detail);
        Assert.True(Verify().Ok);
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
