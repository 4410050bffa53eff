using System.CommandLine;
using System.Text;
using Cohort.Audit;
using Cohort.Cli.Audit;
using Cohort.Cli.Control;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort audit show|verify|compare|fetch</c>: read and check the server's and the nodes' audit ledgers.</summary>
internal static class AuditCommand
{
    /// <summary>Builds the command group.</summary>
    public static Command Create()
    {
        var audit = new Command("audit", "Read and check audit ledgers: the server's (security events, signed with its key) and a node's (tasks it executed)");
        audit.Subcommands.Add(Show());
        audit.Subcommands.Add(Verify());
        audit.Subcommands.Add(Compare());
        audit.Subcommands.Add(Fetch());
        return audit;
    }

    private static Option<string?> LedgerOption() => new("--ledger")
    {
        Description = "A ledger file, or a folder holding audit.jsonl (a server's data folder, a node's --state-dir); default: DATA_DIR/audit.jsonl when present, else the server's through the Control API",
    };

    private static Command Show()
    {
        var control = new ControlOptions();
        var ledger = LedgerOption();
        var run = new Option<string?>("--run") { Description = "Only entries about this run" };
        var node = new Option<string?>("--node") { Description = "Only entries about this node" };
        var kind = new Option<string?>("--kind") { Description = "Only entries of this kind (e.g. task.sent, login.failed) or kind prefix (e.g. result.)" };
        var json = new Option<bool>("--json") { Description = "Print the entries as a JSON array, as written in the ledger" };
        var command = new Command("show", "Print ledger entries") { ledger, run, node, kind, json };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            var source = await LoadAsync(pr, control, ledger, ct);
            string? runId = pr.GetValue(run), nodeName = pr.GetValue(node), kindName = pr.GetValue(kind);
            var entries = source.Entries().Where(e =>
                (runId is null || e.Event.Run == runId)
                && (nodeName is null || e.Event.Node == nodeName)
                && (kindName is null || e.Event.Kind == kindName || (kindName.EndsWith('.') && e.Event.Kind.StartsWith(kindName, StringComparison.Ordinal)))).ToList();
            if (pr.GetValue(json))
            {
                Console.WriteLine("[" + string.Join(",\n", entries.Select(e => e.ToJson())) + "]");
                return 0;
            }
            foreach (var e in entries)
            {
                var where = new StringBuilder();
                if (e.Event.Run is { } r) where.Append(" run=").Append(r);
                if (e.Event.Round is { } n) where.Append(" round=").Append(n);
                if (e.Event.Node is { } nn) where.Append(" node=").Append(nn);
                if (e.Event.Task is { } t) where.Append(" task=").Append(t);
                if (e.Event.Digest is { } d) where.Append(" sha256=").Append(d[..Math.Min(12, d.Length)]);
                Console.WriteLine($"{e.Seq,6} {AuditEntry.FormatTime(e.Time)[..19]}Z {e.Event.Kind,-18} {e.Event.Actor,-22}{where}  {e.Event.Detail}");
            }
            Console.Error.WriteLine($"{entries.Count} of {source.Lines.Count} entries ({source.Origin}); check them with cohort audit verify");
            return 0;
        });
        return command;
    }

    private static Command Verify()
    {
        var control = new ControlOptions();
        var ledger = LedgerOption();
        var keys = new Option<string?>("--keys")
        {
            Description = "PEM certificates of the keys trusted to sign the ledger (default: audit-keys.pem beside it, or those the server sends); keep a copy elsewhere to pin them",
        };
        var command = new Command("verify", "Check a ledger: every entry's hash, the sequence, the hash chain, the signatures and the head; exits 1 naming each removed, altered or reordered entry") { ledger, keys };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            var source = await LoadAsync(pr, control, ledger, ct);
            return await ReportAsync(source, pr.GetValue(keys), ct) ? 0 : 1;
        });
        return command;
    }

    private static Command Compare()
    {
        var serverLedger = new Option<string>("--server-ledger") { Description = "The server's ledger (file or folder; cohort audit fetch writes one)", Required = true };
        var nodeLedger = new Option<string>("--node-ledger") { Description = "The node's own ledger (file, or its --state-dir)", Required = true };
        var node = new Option<string>("--node") { Description = "The node's name in the server's ledger", Required = true };
        var run = new Option<string?>("--run") { Description = "Only tasks of this run" };
        var serverKeys = new Option<string?>("--server-keys") { Description = "PEM certificates trusted to sign the server's ledger (default: audit-keys.pem beside it)" };
        var command = new Command("compare", "Check the server's account of a node against the node's own: tasks sent and received, results sent and received, and their parameter digests")
        {
            serverLedger, nodeLedger, node, run, serverKeys,
        };
        command.SetAction(async (pr, ct) =>
        {
            var server = LedgerSource.FromPath(pr.GetValue(serverLedger)!);
            var own = LedgerSource.FromPath(pr.GetValue(nodeLedger)!);
            bool ok = await ReportAsync(server, pr.GetValue(serverKeys), ct);
            ok &= await ReportAsync(own, null, ct);
            string name = pr.GetValue(node)!;
            var outcome = AuditComparison.Compare(server.Entries(), own.Entries(), name, pr.GetValue(run));
            foreach (string finding in outcome.Findings) Console.WriteLine(finding);
            Console.WriteLine(outcome.Agree
                ? $"agree: {outcome.TasksMatched} tasks and {outcome.ResultsMatched} results of node '{name}' match, with their parameter digests"
                : $"DISAGREE: {outcome.Findings.Count} difference(s) between the server's account of node '{name}' and the node's own ({outcome.TasksMatched} tasks and {outcome.ResultsMatched} results match)");
            return ok && outcome.Agree ? 0 : 1;
        });
        return command;
    }

    private static Command Fetch()
    {
        var control = new ControlOptions();
        var output = new Option<string>("--out", "-o") { Description = "Folder to write audit.jsonl, audit-keys.pem and audit.head into", Required = true };
        var command = new Command("fetch", "Copy the server's ledger through the Control API into a folder (to verify, keep, or hand to a site for cohort audit compare)") { output };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            string dir = pr.GetValue(output)!;
            using var client = new ControlClient(control.Resolve(pr));
            var (certificates, head, lines) = await client.ReadAuditLedgerAsync(ct);
            Directory.CreateDirectory(dir);
            await File.WriteAllLinesAsync(Path.Combine(dir, AuditLedger.FileName), lines, ct);
            if (certificates.Length > 0) await File.WriteAllTextAsync(Path.Combine(dir, AuditLedger.KeysFileName), certificates, ct);
            if (head.Length > 0) await File.WriteAllTextAsync(Path.Combine(dir, AuditLedger.HeadFileName), head + "\n", ct);
            Console.WriteLine($"{lines.Count} entries written to {Path.Combine(dir, AuditLedger.FileName)}");
            return 0;
        });
        return command;
    }

    /// <summary>How long a ledger's writer may take to sign a head over its last entries: twice its sync interval, and a margin.</summary>
    internal static readonly TimeSpan SyncWait = TimeSpan.FromSeconds(2.5);

    /// <summary>
    /// Verifies and prints the outcome; true when the ledger is intact. Routine entries at the end that no signature
    /// covers yet are read again after <see cref="SyncWait"/>: a running writer has signed a head over them by then.
    /// </summary>
    private static async Task<bool> ReportAsync(LedgerSource source, string? keysFile, CancellationToken ct)
    {
        AuditKeyRing? keys = keysFile is not null ? AuditKeyRing.Load(keysFile)
            : source.CertificatesPem is { } pem ? AuditKeyRing.FromPem(pem, $"the certificates of {source.Origin}")
            : null;
        var result = AuditVerifier.Verify(source.Lines, keys, source.Head);
        var problems = result.Problems.ToList();
        var notes = result.Notes.Select(n => n.Message).ToList();
        if (result.UncoveredTail is var (from, to) && problems.Count == 1 && source.Reload is { } reload)
        {
            Console.WriteLine($"{source.Origin}: {AuditVerifier.Range(from, to)} {(from == to ? "is" : "are")} not covered by a signature yet; reading the ledger again in {SyncWait.TotalSeconds:0.#} s, after its writer's next sync");
            await Task.Delay(SyncWait, ct);
            var again = reload();
            var second = AuditVerifier.Verify(again.Lines, keys, again.Head);
            if (second.UncoveredTail is not var (nextFrom, _) || nextFrom > to)
            {
                // Covered since: a process is writing the ledger. Its newest entries are checked the same way next time.
                (source, result) = (again, second);
                // Its own new tail, if any, is a note: the writer has just shown that it signs.
                long? newTail = second.UncoveredTail?.From;
                problems = second.Problems.Where(p => !(p.Kind == "unsigned" && p.Seq == newTail)).ToList();
                notes = second.Notes.Select(n => n.Message).ToList();
                notes.Add($"{AuditVerifier.Range(from, to)} {(from == to ? "was" : "were")} covered by the head the ledger's writer signed since the first read (it is being written)");
                if (second.UncoveredTail is var (f2, t2))
                    notes.Add($"{AuditVerifier.Range(f2, t2)}: written since, not yet covered by a signature; verify again to check {(f2 == t2 ? "it" : "them")}");
            }
            else
            {
                problems[0] = problems[0] with { Message = problems[0].Message + $"; still not covered {SyncWait.TotalSeconds:0.#} s later, so no running process is signing this ledger's head" };
            }
        }
        bool signedEntries = result.KeyIds.Count > 0;
        if (keys is null && signedEntries)
            problems.Add(new AuditProblem(0, null, "unsigned", $"signatures not checked: no {AuditLedger.KeysFileName} beside the ledger; pass --keys with the signing certificates"));
        string signing = keys is null
            ? "unsigned: hash chain checked (whoever can write the file could rewrite it whole)"
            : "signed by " + string.Join(", ", result.KeyIds.Select(id => $"key {id} ({keys.Certificate(id)?.Subject ?? "unknown"})"));
        string head = source.Head is { } h ? $"; head at entry {h.Seq}" : "; no head";
        Console.WriteLine($"{source.Origin}: {result.Entries} entries ({result.FirstSeq}–{result.LastSeq}), {signing}{head}");
        foreach (var p in problems) Console.WriteLine(p.Message);
        foreach (string n in notes) Console.WriteLine("note: " + n);
        Console.WriteLine(problems.Count == 0
            ? "OK: no entry removed, altered or reordered"
            : $"FAILED: {problems.Count} problem(s)");
        return problems.Count == 0;
    }

    private static async Task<LedgerSource> LoadAsync(ParseResult pr, ControlOptions control, Option<string?> ledger, CancellationToken ct)
    {
        if (pr.GetValue(ledger) is { } path) return LedgerSource.FromPath(path);
        string local = Path.Combine(pr.GetValue(control.DataDir)!, AuditLedger.FileName);
        bool serverGiven = pr.GetResult(control.Server) is { Implicit: false } || Environment.GetEnvironmentVariable("COHORT_SERVER") is not null;
        if (!serverGiven && File.Exists(local)) return LedgerSource.FromPath(local);
        var connection = control.Resolve(pr);
        using var client = new ControlClient(connection);
        return await LedgerSource.FromServerAsync(client, connection.Server, ct);
    }
}
