using System.Net;
using System.Text.RegularExpressions;
using Cohort.Apps;
using Cohort.Apps.Empty;
using Cohort.Audit;
using Cohort.Cli;
using Cohort.Cli.Control;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Transport.Channels;
using Grpc.Core;

namespace Cohort.Integration.Tests.Security;

/// <summary>A real server's audit ledger: the events a run and its operators cause, checked offline and remotely, and against the nodes' own ledgers.</summary>
public sealed partial class AuditLedgerTests
{
    [Fact]
    public async Task A_real_run_records_every_kind_of_security_event_and_the_ledgers_verify_and_agree()
    {
        await using var server = await TestServer.StartAsync();
        string states = Path.Combine(server.DataDir, "node-state");
        using var stop = new CancellationTokenSource();
        var apps = new Dictionary<string, IClientApp>
        {
            ["site-a"] = new EmptyApp(4, TimeSpan.Zero),
            ["site-b"] = new EmptyApp(4, TimeSpan.Zero),
            ["liar"] = new NanMetricApp(),
        };
        var running = await server.StartNodesAsync(apps, "empty", stop.Token, stateRoot: states);
        string runId;
        try
        {
            await server.WaitForNodesAsync(apps.Count);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 2, minAvailable: 3, minFit: 2, minEvaluate: 2), "audit.yaml", default);
            runId = run.Id;
            Assert.Equal("finished", (await server.WaitForRunAsync(run.Id)).Run.Status);
            await server.Control.PullModelAsync(run.Id, 0, default);

            using (var wrong = new ControlClient(new ConnectionOptions(server.Host.Address.ToString(), "not-the-admin-token-at-all-0123456789", server.Host.CaFile)))
                await Assert.ThrowsAsync<CliException>(() => wrong.ListAsync(null, default));
            await Assert.ThrowsAsync<RpcException>(() => RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "intruder", "not-a-node-token"));
            using (var browser = Browser(server))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, (await LogInAsync(browser, "wrong-token")).StatusCode);
                Assert.Equal(HttpStatusCode.Redirect, (await LogInAsync(browser, server.Host.AdminToken)).StatusCode);
            }
            // Waits for five nodes that never come, so it is stopped while queued.
            var waiting = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 5, minFit: 5), "never.yaml", default);
            await server.Control.StopAsync(waiting.Id, default);
            // Its preflight's results are on the server's account; a node writes its receipt once the server's reply is
            // back. Stopped before that, a node would rightly lack the receipt of a result the server has.
            await WaitForReceiptsAsync(Path.Combine(server.DataDir, AuditLedger.FileName), states, apps.Keys);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(running);
        }

        var ledger = File.ReadAllLines(Path.Combine(server.DataDir, AuditLedger.FileName)).Select(AuditEntry.Parse).ToList();
        string[] expected =
        [
            AuditKinds.LedgerOpened, AuditKinds.TokenCreated, AuditKinds.NodeRegistered, AuditKinds.RunSubmitted, AuditKinds.TaskSent,
            AuditKinds.ResultAccepted, AuditKinds.ResultRejected, AuditKinds.ModelDownloaded, AuditKinds.ControlRefused, AuditKinds.NodeRefused,
            AuditKinds.LoginFailed, AuditKinds.LoginSucceeded, AuditKinds.RunStopped,
        ];
        Assert.Empty(expected.Except(ledger.Select(e => e.Event.Kind)));
        Assert.Contains(ledger, e => e.Event.Kind == AuditKinds.ResultRejected && e.Event.Node == "liar" && e.Event.Detail.Contains("metric 'train_loss' is NaN"));
        Assert.Contains(ledger, e => e.Event.Kind == AuditKinds.RunSubmitted && e.Event.Run == runId && e.Event.Actor == "admin" && e.Event.Digest is { Length: 64 });
        Assert.All(ledger.Where(e => e.Event.Kind == AuditKinds.TaskSent), e => Assert.True(e.Event.Run is not null && e.Event.Task is not null && e.Event.Node is not null, e.ToJson()));
        // Every fit task carried parameters, so it has their digest.
        Assert.Contains(ledger, e => e.Event.Kind == AuditKinds.TaskSent && e.Event.Digest is { Length: 64 });
        // Every entry names the key; all but the routine ones (a round's tasks and results, signed at most every 100 ms) carry a signature.
        Assert.All(ledger, e => Assert.NotNull(e.Key));
        Assert.All(ledger.Where(e => !AuditKinds.IsRoutine(e.Event.Kind)), e => Assert.NotNull(e.Sig));

        string[] local = ["--data-dir", server.DataDir];
        string[] remote = ["--server", server.Host.Address.ToString(), "--admin-token", server.Host.AdminToken, "--ca", server.Host.CaFile!];
        var (code, output) = await CliProcess.RunAsync(["audit", "verify", .. local]);
        Assert.True(code == 0, output);
        Assert.Contains("OK: no entry removed, altered or reordered", output);
        (code, output) = await CliProcess.RunAsync(["audit", "verify", .. remote]);
        Assert.True(code == 0, output);
        Assert.Contains("signed by key", output);
        (code, output) = await CliProcess.RunAsync(["audit", "show", "--run", runId, "--kind", "result.", .. remote]);
        Assert.True(code == 0, output);
        Assert.Contains("result.rejected", output);
        Assert.DoesNotContain("task.sent", output);

        // An intruder's edit of a copy: one detail changed.
        string copy = Path.Combine(server.DataDir, "copy");
        Directory.CreateDirectory(copy);
        foreach (string f in new[] { AuditLedger.FileName, AuditLedger.KeysFileName, AuditLedger.HeadFileName })
            File.Copy(Path.Combine(server.DataDir, f), Path.Combine(copy, f));
        var lines = File.ReadAllLines(Path.Combine(copy, AuditLedger.FileName));
        int victim = Array.FindIndex(lines, l => l.Contains("\"login.failed\""));
        lines[victim] = lines[victim].Replace("failed: unknown token", "failed: typo");
        File.WriteAllLines(Path.Combine(copy, AuditLedger.FileName), lines);
        (code, output) = await CliProcess.RunAsync(["audit", "verify", "--ledger", copy]);
        Assert.Equal(1, code);
        Assert.Contains($"entry {victim + 1}: hash mismatch (altered)", output);

        // Each site's own account agrees with the server's; one with a task's receipt removed does not.
        foreach (string node in apps.Keys)
        {
            (code, output) = await CliProcess.RunAsync(["audit", "compare", "--server-ledger", server.DataDir, "--node-ledger", Path.Combine(states, node), "--node", node]);
            Assert.True(code == 0, output);
            Assert.Contains($"agree: ", output);
            Assert.Contains("unsigned: hash chain checked", output);
        }
        string siteA = Path.Combine(states, "site-a", AuditLedger.FileName);
        var nodeLines = File.ReadAllLines(siteA).ToList();
        // A task of the run itself (the preflight's validate task before it belongs to no run).
        int removed = nodeLines.FindIndex(l => l.Contains("\"task.received\"") && AuditEntry.Parse(l).Event.Run == runId);
        string removedTask = AuditEntry.Parse(nodeLines[removed]).Event.Task!;
        nodeLines.RemoveAt(removed);
        File.WriteAllLines(siteA, nodeLines);
        (code, output) = await CliProcess.RunAsync(["audit", "compare", "--server-ledger", server.DataDir, "--node-ledger", Path.Combine(states, "site-a"), "--node", "site-a"]);
        Assert.Equal(1, code);
        Assert.Contains($"task {removedTask} (run {runId}, round ", output);
        Assert.Contains("the server records sending it, the node has no record of receiving it", output);
        Assert.Contains($"entry {removed + 2}: sequence gap, {removed} → {removed + 2} (entry {removed + 1} removed)", output);
    }

    [Fact]
    public async Task Under_mutual_tls_certificates_used_and_refused_are_recorded_and_a_node_signs_its_ledger_with_its_own_key()
    {
        await using var server = await TestServer.StartAsync(mutualTls: true);
        string certs = Path.Combine(server.DataDir, "certs"), state = Path.Combine(server.DataDir, "site-a-state");
        string[] control = ["--server", server.Host.Address.ToString(), "--admin-token", server.Host.AdminToken, "--ca", server.Host.CaFile!];
        var (code, output) = await CliProcess.RunAsync(["token", "create", "site-a", "--cert-dir", certs, .. control]);
        Assert.True(code == 0, output);
        string tokenA = CliProcess.TokenIn(output);
        string tokenB = await server.Control.CreateNodeTokenAsync("site-b", default);
        string crt = Path.Combine(certs, "site-a.crt");
        await using var good = CliProcess.StartNode(server, "site-a", tokenA, "empty", "--cert", crt, "--key", Path.Combine(certs, "site-a.key"), "--state-dir", state);
        await using var noCert = CliProcess.StartNode(server, "site-b", tokenB, "empty");
        await server.WaitForNodesAsync(1, processes: [good]);
        Assert.Equal(1, await noCert.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, minEvaluate: 1), "mtls.yaml", default);
        Assert.Equal("finished", (await server.WaitForRunAsync(run.Id)).Run.Status);

        var ledger = File.ReadAllLines(Path.Combine(server.DataDir, AuditLedger.FileName)).Select(AuditEntry.Parse).ToList();
        Assert.Contains(ledger, e => e.Event.Kind == AuditKinds.CertificateRefused && e.Event.Node == "site-b" && e.Event.Detail.Contains("must present its client certificate"));
        Assert.Contains(ledger, e => e.Event.Kind == AuditKinds.NodeRegistered && e.Event.Node == "site-a" && e.Event.Detail.Contains("with client certificate CN=site-a"));
        Assert.Contains(ledger, e => e.Event.Kind == AuditKinds.TokenCreated && e.Event.Detail.Contains("node token and client certificate issued for node 'site-a'"));

        // The node writes its result's entry once the server has answered; wait for it (the run may end first).
        int results = ledger.Count(e => e.Event.Node == "site-a" && e.Event.Kind.StartsWith("result.", StringComparison.Ordinal));
        string nodeLedger = Path.Combine(state, AuditLedger.FileName);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (AuditLedger.ReadLines(nodeLedger).Count(l => l.Contains("\"result.sent\"")) < results)
        {
            Assert.True(DateTime.UtcNow < deadline, good.Output);
            await Task.Delay(100);
        }
        // The site pins its own certificate: the ledger must be signed by the key it holds.
        (code, output) = await CliProcess.RunAsync(["audit", "verify", "--ledger", state, "--keys", crt]);
        Assert.True(code == 0, output);
        Assert.Contains("(CN=site-a)", output);
        (code, output) = await CliProcess.RunAsync(["audit", "verify", "--ledger", state, "--keys", server.Host.CaFile!]);
        Assert.Equal(1, code);
        Assert.Contains("which is not among the trusted keys", output);
        (code, output) = await CliProcess.RunAsync(["audit", "compare", "--server-ledger", server.DataDir, "--node-ledger", state, "--node", "site-a"]);
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task Verify_reads_a_ledger_being_written_again_after_its_next_sync_and_fails_a_tail_nobody_signs()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-audit-cli-" + Guid.NewGuid().ToString("N")[..8]);
        string crashed = dir + "-crashed";
        try
        {
            // A writer that signs routine entries at most hourly and its head only when told to.
            using (var ledger = AuditLedger.Open(dir, AuditSigner.LoadOrCreateDedicated(dir, "test ledger"), "test", syncInterval: TimeSpan.FromHours(1), signSpacing: TimeSpan.FromHours(1)))
            {
                for (int i = 1; i <= 5; i++) ledger.Append(new AuditEvent(AuditKinds.TaskSent, "server", $"task {i} sent") { Task = $"t{i}" });
                Directory.CreateDirectory(crashed);
                foreach (string name in new[] { AuditLedger.FileName, AuditLedger.KeysFileName })
                    File.Copy(Path.Combine(dir, name), Path.Combine(crashed, name));

                await using var verify = CliProcess.Start(["audit", "verify", "--ledger", dir]);
                await verify.WaitForOutputAsync("reading the ledger again in 2.5 s", TimeSpan.FromSeconds(60));
                ledger.Sync();
                Assert.Equal(0, await verify.WaitForExitAsync(TimeSpan.FromSeconds(30)));
                Assert.Contains("entries 2–6 were covered by the head the ledger's writer signed since the first read", verify.Output);
            }
            // The same entries where no writer signs a head (a crash's copy): still uncovered when read again.
            var (code, output) = await CliProcess.RunAsync(["audit", "verify", "--ledger", crashed]);
            Assert.Equal(1, code);
            Assert.Contains("entries 2–6: no signature covers them", output);
            Assert.Contains("still not covered 2.5 s later, so no running process is signing this ledger's head", output);
        }
        finally
        {
            foreach (string d in new[] { dir, crashed })
                if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
        }
    }

    /// <summary>Waits until every node's own ledger has a receipt for each of its results on the server's ledger.</summary>
    private static async Task WaitForReceiptsAsync(string serverLedger, string states, IEnumerable<string> nodes)
    {
        string[] resultKinds = [AuditKinds.ResultAccepted, AuditKinds.ResultRejected, AuditKinds.ResultFailed];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var results = Entries(serverLedger).Where(e => resultKinds.Contains(e.Event.Kind)).ToList();
            var missing = nodes.SelectMany(node =>
            {
                var sent = Entries(Path.Combine(states, node, AuditLedger.FileName)).Where(e => e.Event.Kind == AuditKinds.ResultSent).Select(e => e.Event.Task).ToHashSet();
                return results.Where(e => e.Event.Node == node && !sent.Contains(e.Event.Task)).Select(e => $"{node}: {e.Event.Task}");
            }).ToList();
            if (missing.Count == 0) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"nodes wrote no receipt of: {string.Join(", ", missing)}");
            await Task.Delay(100);
        }
    }

    // The whole entries of a ledger being written (a line still being appended is left for the next look).
    private static IEnumerable<AuditEntry> Entries(string path)
    {
        if (!File.Exists(path)) yield break;
        foreach (string line in File.ReadAllLines(path))
        {
            AuditEntry? entry = null;
            try
            {
                entry = AuditEntry.Parse(line);
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or InvalidDataException)
            {
            }
            if (entry is not null) yield return entry;
        }
    }

    private static HttpClient Browser(TestServer server) => new(new HttpClientHandler
    {
        AllowAutoRedirect = false,
        UseCookies = true,
        CookieContainer = new CookieContainer(),
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
    })
    {
        BaseAddress = server.Host.DashboardAddress,
    };

    private static async Task<HttpResponseMessage> LogInAsync(HttpClient client, string token)
    {
        string html = await (await client.GetAsync("/login")).Content.ReadAsStringAsync();
        var csrf = FormToken().Match(html);
        return await client.PostAsync("/login", new FormUrlEncodedContent([new("token", token), new("next", "/"), new("csrf", csrf.Groups[1].Value)]));
    }

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();

    /// <summary>Trains honestly but reports a NaN training loss, so the server rejects each of its fit results.</summary>
    private sealed class NanMetricApp : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("weights", DType.Float32, [4])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new FitResult(parameters, 10, new Metrics([KeyValuePair.Create("train_loss", Scalar.Of(double.NaN))])));

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0.5, 5, Metrics.Empty));
    }
}
