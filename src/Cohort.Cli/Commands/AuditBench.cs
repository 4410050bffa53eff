using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Audit;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Node;
using Cohort.Records;
using Cohort.Server.Hosting;
using Cohort.Transport.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench audit</c>: what the audit ledger costs a run — a server (TLS, its generated ECDSA P-256 key signs the ledger)
/// and N nodes keeping their own ledgers, in one process over gRPC on loopback — as entries, time spent appending
/// (hash, signature, write) against the run's wall time, ledger size and the time to verify it.
/// </summary>
internal static class AuditBench
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Nodes", DefaultValueFactory = _ => 3 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds (fit and evaluate on every node)", DefaultValueFactory = _ => 20 };
        var insecure = new Option<bool>("--insecure") { Description = "Serve plaintext: the ledger is then signed with the dedicated ECDSA P-256 ledger key instead of the generated TLS key" };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("audit", "Audit ledger overhead of a run: entries, append time against run time, size, verification time") { nodes, rounds, insecure, json };
        command.SetAction(async (pr, ct) =>
        {
            int n = pr.GetValue(nodes), r = pr.GetValue(rounds);
            if (n < 1 || r < 1) throw new CliException("--nodes ≥ 1 and --rounds ≥ 1");
            string dir = Path.GetFullPath(".cohort/bench-audit");
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            bool plaintext = pr.GetValue(insecure);
            var figures = BenchFigures.Begin(new JsonObject { ["nodes"] = n, ["rounds"] = r, ["signing_key"] = plaintext ? "ecdsa-p256 (dedicated ledger key)" : "rsa-2048 (generated TLS key)" });
            await using var server = await CohortServerHost.StartAsync(
                new ServerOptions { Port = 0, DashboardPort = -1, Insecure = plaintext, DataDir = Path.Combine(dir, "server"), HeartbeatInterval = TimeSpan.FromMilliseconds(500) },
                logLevel: LogLevel.Warning, ct: ct);
            using var control = new ControlClient(new ConnectionOptions(server.Address.ToString(), server.AdminToken, server.CaFile, plaintext));
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var running = new List<Task>();
            for (int i = 1; i <= n; i++)
            {
                string name = $"site{i}";
                running.Add(CohortNode.RunAsync(BuiltInApps.Find("empty")!, new NodeOptions
                {
                    Connection = new ConnectionOptions(server.Address.ToString(), await control.CreateNodeTokenAsync(name, ct), server.CaFile, plaintext),
                    Name = name,
                    NodeSettings = new Config(new Dictionary<string, Scalar> { ["values"] = 1000 }),
                    StateDir = Path.Combine(dir, name),
                }, stop.Token));
            }
            var ledger = server.Services.GetRequiredService<AuditLedger>();
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while ((await control.ListNodesAsync(ct)).Count(x => x.TypedStatus().IsConnected()) < n)
                {
                    if (DateTime.UtcNow > deadline) throw new CliException($"{n} nodes did not come online within 60 s");
                    await Task.Delay(100, ct);
                }
                var before = ledger.Cost;
                var clock = Stopwatch.StartNew();
                string plan = $$"""
                    name: bench-audit
                    app: { name: empty }
                    strategy: { name: fedavg }
                    rounds: {{r}}
                    selection: { min_available: {{n}}, min_fit: {{n}}, min_evaluate: {{n}}, fraction_fit: 1.0, fraction_evaluate: 1.0 }
                    round_timeout: 30s
                    """;
                var run = await control.SubmitAsync(plan, "bench", ct);
                while (!(await control.GetAsync(run.Id, ct)).Run.TypedStatus().IsFinal()) await Task.Delay(50, ct);
                double wall = clock.Elapsed.TotalMilliseconds;
                var after = ledger.Cost;
                long entries = after.Entries - before.Entries;
                double appendMs = (after.Time - before.Time).TotalMilliseconds;
                BenchFigures.Print(figures, "audit.server.entries", entries);
                BenchFigures.Print(figures, "audit.server.append_ms_total", appendMs);
                BenchFigures.Print(figures, "audit.server.append_us_mean", appendMs * 1000 / Math.Max(1, entries));
                BenchFigures.Print(figures, "audit.run_wall_ms", wall);
                BenchFigures.Print(figures, "audit.server.share_of_run_wall_pct", 100 * appendMs / wall);
            }
            finally
            {
                await stop.CancelAsync();
                await Task.WhenAll(running);
            }
            ledger.Sync();
            var info = new FileInfo(ledger.Path);
            BenchFigures.Print(figures, "audit.server.ledger_kib", info.Length / 1024.0);
            BenchFigures.Print(figures, "audit.node.entries_per_node", File.ReadLines(Path.Combine(dir, "site1", AuditLedger.FileName)).Count());
            var verify = Stopwatch.StartNew();
            var keys = AuditKeyRing.Load(Path.Combine(server.DataDir, AuditLedger.KeysFileName));
            var result = AuditVerifier.Verify(AuditLedger.ReadLines(ledger.Path), keys, null);
            BenchFigures.Print(figures, "audit.server.verify_ms", verify.Elapsed.TotalMilliseconds);
            if (!result.Ok) throw new CliException($"the ledger does not verify: {result.Problems[0].Message}");
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }
}
