using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Cohort.Cli.Control;
using Cohort.Cli.Demo;
using Cohort.Node;
using Cohort.Records;
using Cohort.Transport.Channels;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench soak</c>: many lightweight nodes hosted in this process, each with its own gRPC
/// connection (TLS over loopback) to a separate <c>cohort server</c> process, heartbeating and taking
/// tasks of a tiny model run after run for a set time; counts every error on either side and samples the
/// server's resident memory, so a leak shows as a rising curve.
/// </summary>
internal static class SoakBench
{
    private static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(5);

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Node clients (each its own gRPC connection), hosted in this process", DefaultValueFactory = _ => 1000 };
        var minutes = new Option<double>("--minutes") { Description = "How long nodes heartbeat and take tasks", DefaultValueFactory = _ => 10 };
        var values = new Option<int>("--values") { Description = "Model size in float32 values", DefaultValueFactory = _ => 100 };
        var fraction = new Option<double>("--fraction") { Description = "Share of the nodes sampled for each round's fit and evaluate tasks", DefaultValueFactory = _ => 0.1 };
        var roundsPerRun = new Option<int>("--rounds-per-run") { Description = "Rounds of each run; runs follow each other until the time is up", DefaultValueFactory = _ => 20 };
        var nodeTimeout = new Option<double>("--node-timeout") { Description = "The server's --node-timeout (seconds without heartbeat before a node is offline)", DefaultValueFactory = _ => 4.0 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("soak", "Many node clients over real gRPC connections to a server process for a set time: errors (should be 0) and the server's memory at start, middle and end")
        {
            nodes, minutes, values, fraction, roundsPerRun, nodeTimeout, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int n = pr.GetValue(nodes), size = pr.GetValue(values), perRun = pr.GetValue(roundsPerRun);
            double duration = pr.GetValue(minutes), share = pr.GetValue(fraction), timeout = pr.GetValue(nodeTimeout);
            if (n < 1 || size < 1 || perRun < 1 || duration <= 0 || share <= 0 || share > 1 || timeout <= 0)
                throw new CliException("--nodes ≥ 1, --values ≥ 1, --rounds-per-run ≥ 1, --minutes > 0, --node-timeout > 0 and 0 < --fraction ≤ 1");
            string dir = BenchFigures.FreshFolder("bench-soak");
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["nodes"] = n,
                ["minutes"] = duration,
                ["values"] = size,
                ["fraction"] = share,
                ["rounds_per_run"] = perRun,
                ["node_timeout_s"] = timeout,
            });
            string serverLog = Path.Combine(dir, "server.log");
            await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"),
                ["--node-timeout", timeout.ToString(CultureInfo.InvariantCulture)], serverLog, ct);
            using var control = new ControlClient(new ConnectionOptions(server.Address, server.AdminToken, server.CaFile));
            var nodeLog = new CountingLogger();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var fleet = new List<Task>(n);
            var clock = Stopwatch.StartNew();
            var tokens = await CreateTokensAsync(control, n, ct);
            Print(figures, "setup.tokens_s", clock.Elapsed.TotalSeconds);
            clock.Restart();
            await StartFleetAsync(fleet, server, tokens, size, nodeLog, stop.Token, ct);
            await WaitForNodesAsync(control, fleet, n, ct);
            Print(figures, "setup.nodes_online_s", clock.Elapsed.TotalSeconds);
            // Troubles while connecting are reported apart from those of the soak itself.
            int setupNodeWarnings = nodeLog.Warnings, setupServerWarnings = ServerWarnings(serverLog).Count;
            Print(figures, "setup.node_warnings", setupNodeWarnings);
            Print(figures, "setup.server_warnings", setupServerWarnings);

            var curve = new JsonArray();
            var rss = new List<(double Seconds, double Mib)>();
            int runs = 0, rounds = 0, failedRuns = 0;
            long fitOk = 0, evaluateOk = 0, failedResults = 0;
            var failures = new List<string>();
            clock.Restart();
            var end = TimeSpan.FromMinutes(duration);
            var nextSample = TimeSpan.Zero;
            void Sample()
            {
                if (clock.Elapsed < nextSample) return;
                var (now, _) = server.Memory();
                rss.Add((clock.Elapsed.TotalSeconds, now));
                curve.Add((JsonNode)new JsonObject { ["t_s"] = Math.Round(clock.Elapsed.TotalSeconds, 1), ["server_rss_mib"] = Math.Round(now, 1), ["host_rss_mib"] = Math.Round(ProcessMemory.Read(Environment.ProcessId).Rss, 1), ["node_warnings"] = nodeLog.Warnings });
                nextSample += SampleEvery;
            }
            Sample();
            try
            {
                while (clock.Elapsed < end)
                {
                    var run = await control.SubmitAsync(Plan(n, share, perRun), "bench", ct);
                    runs++;
                    while (true)
                    {
                        Sample();
                        if (fleet.FirstOrDefault(t => t.IsCompleted) is { } stopped)
                            throw new CliException($"a node client stopped: {stopped.Exception?.GetBaseException().Message ?? "without an error"}");
                        var info = (await control.ListAsync(null, ct)).First(r => r.Id == run.Id);
                        if (info.Status is "finished" or "failed" or "stopped") break;
                        // A run that outlives the soak by long is stuck: stop it and count it.
                        if (clock.Elapsed > end + TimeSpan.FromMinutes(2)) await control.StopAsync(run.Id, ct);
                        await Task.Delay(250, ct);
                    }
                    var detail = await control.GetAsync(run.Id, ct);
                    if (detail.Run.Status != "finished")
                    {
                        failedRuns++;
                        failures.Add($"run {run.Id} {detail.Run.Status}: {detail.Run.Error}");
                    }
                    rounds += detail.Rounds.Count;
                    foreach (var result in detail.Rounds.SelectMany(r => r.Nodes))
                    {
                        if (!result.Ok)
                        {
                            failedResults++;
                            if (failures.Count < 10) failures.Add($"run {run.Id} node {result.Node} {result.Phase}: {result.Error}");
                        }
                        else if (result.Phase == "evaluate") evaluateOk++;
                        else fitOk++;
                    }
                }
                nextSample = TimeSpan.Zero;
                Sample();
            }
            finally
            {
                await stop.CancelAsync();
                await Task.WhenAll(fleet.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            }
            double seconds = clock.Elapsed.TotalSeconds;
            var serverTroubles = ServerWarnings(serverLog).Skip(setupServerWarnings).ToArray();
            int serverWarnings = serverTroubles.Length, nodeWarnings = nodeLog.Warnings - setupNodeWarnings;
            Print(figures, "soak.seconds", seconds);
            Print(figures, "soak.runs", runs);
            Print(figures, "soak.rounds", rounds);
            Print(figures, "soak.fit_results", fitOk);
            Print(figures, "soak.evaluate_results", evaluateOk);
            Print(figures, "soak.tasks_per_second", (fitOk + evaluateOk) / seconds);
            Print(figures, "errors.failed_runs", failedRuns);
            Print(figures, "errors.failed_node_results", failedResults);
            // Everything the node clients and the server logged from the start of the soak on, the nodes' stop at the end included.
            Print(figures, "errors.node_warnings", nodeWarnings);
            Print(figures, "errors.server_warnings", serverWarnings);
            Print(figures, "errors", failedRuns + failedResults + nodeWarnings + serverWarnings);
            var middle = rss.MinBy(s => Math.Abs(s.Seconds - seconds / 2));
            Print(figures, "server.rss_mib.start", rss[0].Mib);
            Print(figures, "server.rss_mib.middle", middle.Mib);
            Print(figures, "server.rss_mib.end", rss[^1].Mib);
            Print(figures, "server.rss_mib.max", rss.Max(s => s.Mib));
            Print(figures, "server.rss.end_over_middle", rss[^1].Mib / middle.Mib);
            Print(figures, "server.peak_rss_mib", server.Memory().Peak);
            Print(figures, "host.rss_mib.end", ProcessMemory.Read(Environment.ProcessId).Rss);
            figures["rss_curve"] = curve;
            var first = failures.Concat(serverTroubles.Take(5).Select(l => l.Length > 300 ? l[..300] : l)).Concat(nodeLog.FirstMessages.Skip(setupNodeWarnings)).ToArray();
            figures["first_failures"] = new JsonArray([.. first.Select(f => (JsonNode)f)]);
            foreach (var f in first.Take(10)) Console.WriteLine($"  {f}");
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    // The server's warnings and errors, in order (each a line of its plain console log).
    internal static List<string> ServerWarnings(string log)
    {
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
            if (line.Contains(" warn: ", StringComparison.Ordinal) || line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal)
                || line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal))
                lines.Add(line);
        return lines;
    }

    internal static string NodeName(int i) => $"soak{i + 1:D4}";

    /// <summary>A node token for each of <paramref name="n"/> nodes named <see cref="NodeName"/>.</summary>
    internal static async Task<string[]> CreateTokensAsync(ControlClient control, int n, CancellationToken ct)
    {
        var tokens = new string[n];
        for (int i = 0; i < n; i++) tokens[i] = await control.CreateNodeTokenAsync(NodeName(i), ct);
        return tokens;
    }

    /// <summary>
    /// Starts one in-process node per token, running the <c>empty</c> app with <paramref name="values"/> values, each with its
    /// own channel and connection, adding their tasks to <paramref name="fleet"/>; they run until <paramref name="stop"/>.
    /// </summary>
    internal static async Task StartFleetAsync(List<Task> fleet, ServerProcess server, string[] tokens, int values, Microsoft.Extensions.Logging.ILogger logger, CancellationToken stop, CancellationToken ct)
    {
        var factory = Apps.BuiltInApps.Find("empty") ?? throw new CliException("the built-in app 'empty' is missing");
        var settings = new Config([new KeyValuePair<string, Scalar>("values", values.ToString(CultureInfo.InvariantCulture))]);
        for (int i = 0; i < tokens.Length; i++)
        {
            var options = new NodeOptions
            {
                Connection = new ConnectionOptions(server.Address, tokens[i], server.CaFile),
                Name = NodeName(i),
                NodeSettings = settings,
                Logger = logger,
            };
            fleet.Add(Task.Run(() => CohortNode.RunAsync(factory, options, stop), CancellationToken.None));
            // Connect in waves of 25 every 250 ms: a thousand TLS handshakes at once on a small machine
            // starve the heartbeats of the nodes already connected, which then time out and reconnect.
            if (i % 25 == 24) await Task.Delay(250, ct);
        }
    }

    internal static string Plan(int nodes, double fraction, int rounds) => $$"""
        name: bench-soak
        app: { name: empty }
        strategy: { name: fedavg }
        rounds: {{rounds}}
        selection: { min_available: {{nodes}}, min_fit: 1, min_evaluate: 1, fraction_fit: {{fraction.ToString(CultureInfo.InvariantCulture)}}, fraction_evaluate: {{fraction.ToString(CultureInfo.InvariantCulture)}} }
        round_timeout: 60s
        """;

    private static async Task WaitForNodesAsync(ControlClient control, List<Task> fleet, int count, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while ((await control.ListNodesAsync(ct)).Count(x => x.Status is "online" or "busy") < count)
        {
            if (fleet.FirstOrDefault(t => t.IsCompleted) is { } stopped)
                throw new CliException($"a node client stopped before the soak began: {stopped.Exception?.GetBaseException().Message ?? "without an error"}");
            if (DateTime.UtcNow > deadline) throw new CliException($"fewer than {count} nodes came online within 3 minutes");
            await Task.Delay(500, ct);
        }
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
