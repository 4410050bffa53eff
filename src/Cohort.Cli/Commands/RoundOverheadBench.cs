using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Cohort.Cli.Control;
using Cohort.Cli.Demo;
using Cohort.Engine.State;
using Cohort.Transport.Channels;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench round-overhead</c>: what one round of orchestration costs with an empty fit — a
/// <c>cohort server</c> process and N node processes over TLS gRPC on loopback — with the server's own
/// memory (idle, peak) and, when asked, under a background load of busy processes.
/// </summary>
internal static class RoundOverheadBench
{
    private const int WarmUpRounds = 3;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Node processes", DefaultValueFactory = _ => 4 };
        var rounds = new Option<int>("--rounds") { Description = "Measured rounds per plan (after 3 warm-up rounds)", DefaultValueFactory = _ => 30 };
        var values = new Option<int>("--values") { Description = "Model size in float32 values", DefaultValueFactory = _ => 1000 };
        var load = new Option<int>("--load") { Description = "Busy background processes to start for the measurement (0: none)", DefaultValueFactory = _ => 0 };
        var durability = new Option<string>("--durability") { Description = "The server's --durability: power (a flush to disk per round) or process", DefaultValueFactory = _ => "power" };
        durability.AcceptOnlyFromAmong("power", "process");
        var dashboard = new Option<bool>("--dashboard") { Description = "Run the server with its dashboard (off by default), to measure its memory with it" };
        var hygiene = new Option<int?>("--memory-hygiene-rounds") { Description = "The server's --memory-hygiene-rounds (default: the server's own); 1 makes a memory pass follow every round, to measure its cost (the server's --memory-hygiene-seconds is then 0)" };
        var spacing = new Option<double?>("--memory-hygiene-seconds") { Description = "The server's --memory-hygiene-seconds (default: the server's own, or 0 with --memory-hygiene-rounds)" };
        var nodeProgram = new Option<string?>("--node-program") { Description = "The cohort program the node processes run, when not this one (an AOT server's bench with JIT nodes: the cohort binary, or a cohort.dll to run with dotnet)" };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("round-overhead", "Orchestration time of one round with an empty fit: a server process and N node processes over TLS gRPC on loopback")
        {
            nodes, rounds, values, load, durability, dashboard, hygiene, spacing, nodeProgram, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int n = pr.GetValue(nodes), r = pr.GetValue(rounds), size = pr.GetValue(values), busy = pr.GetValue(load);
            if (n < 1 || r < 2 || size < 1 || busy < 0) throw new CliException("--nodes ≥ 1, --rounds ≥ 2, --values ≥ 1 and --load ≥ 0");
            string dir = BenchFigures.FreshFolder("bench-round-overhead");
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["nodes"] = n,
                ["rounds"] = r,
                ["values"] = size,
                ["background_load_processes"] = busy,
                ["durability"] = pr.GetValue(durability),
                ["model_mib"] = Math.Round(size * 4.0 / 1048576, 3),
                ["dashboard"] = pr.GetValue(dashboard),
                ["memory_hygiene_rounds"] = pr.GetValue(hygiene),
                ["memory_hygiene_seconds"] = pr.GetValue(spacing),
                ["node_program"] = pr.GetValue(nodeProgram),
            });
            var nodeCommand = NodeProcess.CommandOf(pr.GetValue(nodeProgram));
            // --memory-hygiene-rounds alone measures a pass every so many rounds, however fast: no spacing then.
            var serverArguments = ServerProcess.MemoryHygieneArguments(pr.GetValue(hygiene), pr.GetValue(spacing) ?? (pr.GetValue(hygiene) is null ? null : 0));
            serverArguments.AddRange(["--durability", pr.GetValue(durability)!]);
            await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"), serverArguments, Path.Combine(dir, "server.log"), ct, pr.GetValue(dashboard));
            var serverStarted = Stopwatch.StartNew();
            using var control = new ControlClient(new ConnectionOptions(server.Address, server.AdminToken, server.CaFile));
            var processes = new List<NodeProcess>();
            var background = new List<Process>();
            try
            {
                await StartEmptyNodesAsync(server, control, processes, n, dir, [$"values={size}"], ct, nodeCommand);
                // Idle means settled: past the collection a server runs once after startup, and the one that
                // follows its nodes' registrations.
                var settled = IdleMemory.Delay + TimeSpan.FromSeconds(1) - serverStarted.Elapsed;
                if (settled < Server.Hosting.MemoryHygiene.Settle + TimeSpan.FromSeconds(1)) settled = Server.Hosting.MemoryHygiene.Settle + TimeSpan.FromSeconds(1);
                await Task.Delay(settled, ct);
                Print(figures, "server.idle_rss_mib", server.Memory().Rss);
                var idle = ProcessMemory.Breakdown(server.Id);
                Print(figures, "server.idle_rss_anon_mib", idle.Anon);
                Print(figures, "server.idle_rss_file_mib", idle.File);
                Print(figures, "server.idle_rss_shmem_mib", idle.Shmem);
                Print(figures, "server.idle_pss_mib", idle.Pss);
                Print(figures, "server.idle_private_dirty_mib", idle.PrivateDirty);
                for (int i = 0; i < busy; i++) background.Add(StartBusyProcess());

                foreach (bool evaluate in new[] { false, true })
                {
                    string plan = $$"""
                        name: bench-round-overhead
                        app: { name: empty }
                        strategy: { name: fedavg }
                        rounds: {{r + WarmUpRounds}}
                        selection: { min_available: {{n}}, min_fit: {{n}}, min_evaluate: {{(evaluate ? n : 0)}}, fraction_fit: 1.0, fraction_evaluate: {{(evaluate ? "1.0" : "0.0")}} }
                        round_timeout: 30s
                        """;
                    var run = await control.SubmitAsync(plan, "bench", ct);
                    // CPU time of the server and the nodes over the rounds past the warm-up, read from /proc when the
                    // poll first sees the warm-up done and again when the run has finished.
                    int[] nodeIds = processes.Select(p => p.Id).ToArray();
                    (int Rounds, TimeSpan Server, TimeSpan Nodes)? cpuFrom = null;
                    var detail = await WaitAsync(control, run.Id, ct, done =>
                    {
                        if (cpuFrom is null && done >= WarmUpRounds) cpuFrom = (done, ProcessCpu.Read(server.Id), ProcessCpu.Sum(nodeIds));
                    });
                    var (serverCpu, nodesCpu) = (ProcessCpu.Read(server.Id), ProcessCpu.Sum(nodeIds));
                    var measured = detail.Rounds.Where(x => x.Round > WarmUpRounds).OrderBy(x => x.Round).ToArray();
                    string prefix = evaluate ? "round.fit_evaluate" : "round.fit";
                    // Start to finish of each round, as the server records it.
                    var spans = measured.Select(x => RunReport.Seconds(x.StartedAt, x.FinishedAt) * 1000).ToArray();
                    PrintDistribution(figures, $"{prefix}.ms", spans);
                    // Finish to finish: everything between rounds too (bookkeeping, persistence), as Flower's harness measures.
                    var finished = detail.Rounds.Where(x => x.Round >= WarmUpRounds).OrderBy(x => x.Round).Select(x => x.FinishedAt).ToArray();
                    var intervals = finished.Zip(finished.Skip(1), (a, b) => RunReport.Seconds(a, b) * 1000).ToArray();
                    PrintDistribution(figures, $"{prefix}.interval_ms", intervals);
                    // What no phase covers: the round's record committed (flushed to disk under --durability power), its kept
                    // results discarded, the next round begun. Its tail is where that commit's flush shows.
                    PrintDistribution(figures, $"{prefix}.between_rounds_ms", BetweenRounds(detail.Rounds.Where(x => x.Round >= WarmUpRounds).Select(x => (x.Round, x.StartedAt, x.FinishedAt))));
                    if (cpuFrom is { } from && detail.Run.RoundsDone > from.Rounds)
                    {
                        int counted = detail.Run.RoundsDone - from.Rounds;
                        Print(figures, $"{prefix}.server.cpu_ms_per_round", (serverCpu - from.Server).TotalMilliseconds / counted);
                        Print(figures, $"{prefix}.node.cpu_ms_per_round", (nodesCpu - from.Nodes).TotalMilliseconds / counted / n);
                    }
                    Print(figures, $"{prefix}.aggregate_ms.median", Median(measured.Select(x => x.AggregationSeconds * 1000)));
                    Print(figures, $"{prefix}.node_compute_ms.median", Median(measured.Select(x => x.Nodes.Count == 0 ? 0 : x.Nodes.Max(nr => nr.DurationSeconds) * 1000)));
                    // Where the span goes, phase by phase, as the server timed it (phase_seconds of each round).
                    foreach (string phase in Engine.Runs.RoundPhaseTimer.Names.Where(p => measured.Any(x => x.PhaseSeconds.ContainsKey(p))))
                    {
                        var spent = measured.Select(x => x.PhaseSeconds.TryGetValue(phase, out double seconds) ? seconds * 1000 : 0).Order().ToArray();
                        // The median says where a round's time goes, the p90 which phase its slow rounds lose it in.
                        Print(figures, $"{prefix}.phase.{phase}_ms.median", spent[spent.Length / 2]);
                        Print(figures, $"{prefix}.phase.{phase}_ms.p90", spent[spent.Length * 9 / 10]);
                    }
                }
                var (rss, peak) = server.Memory();
                Print(figures, "server.rss_mib", rss);
                Print(figures, "server.peak_rss_mib", peak);
                Print(figures, "node.peak_rss_mib.max", processes.Max(p => ProcessMemory.Read(p.Id).Peak));
            }
            finally
            {
                foreach (var p in background) StopBusyProcess(p);
                foreach (var p in processes) await p.DisposeAsync();
            }
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    private static void PrintDistribution(JsonObject figures, string name, double[] values)
    {
        var s = Spread.Of(values);
        Print(figures, $"{name}.median", s.Median);
        Print(figures, $"{name}.p10", s.P10);
        Print(figures, $"{name}.p90", s.P90);
        Print(figures, $"{name}.p90_over_p10", s.P90 / s.P10);
    }

    /// <summary>
    /// Milliseconds from each round's finish (as the server records it, before the round's record is committed) to the next
    /// round's start, for the rounds given whose next round is given too.
    /// </summary>
    internal static double[] BetweenRounds(IEnumerable<(int Round, string StartedAt, string FinishedAt)> rounds)
    {
        var byRound = rounds.ToDictionary(x => x.Round);
        return byRound.Keys.Order()
            .Where(r => byRound.ContainsKey(r + 1))
            .Select(r => RunReport.Seconds(byRound[r].FinishedAt, byRound[r + 1].StartedAt) * 1000)
            .ToArray();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    /// <summary>
    /// Starts <paramref name="count"/> node processes (site1, site2, …) with the <c>empty</c> app and the given
    /// app settings, each with its own token and log in <paramref name="dir"/>, and waits until all are connected.
    /// Each is added to <paramref name="processes"/> as it starts, so the caller stops every one that did.
    /// </summary>
    internal static async Task StartEmptyNodesAsync(ServerProcess server, ControlClient control, List<NodeProcess> processes, int count, string dir, IEnumerable<string> settings, CancellationToken ct, IReadOnlyList<string>? nodeCommand = null)
    {
        var sets = settings.SelectMany(setting => new[] { "--set", setting }).ToArray();
        for (int i = 1; i <= count; i++)
        {
            string name = $"site{i}";
            string token = await control.CreateNodeTokenAsync(name, ct);
            processes.Add(NodeProcess.Start(name, token,
                ["--server", server.Address, "--name", name, "--app", "empty", "--ca", server.CaFile, .. sets],
                Path.Combine(dir, $"node-{name}.log"), nodeCommand));
        }
        await WaitForNodesAsync(control, processes, count, ct);
    }

    internal static async Task WaitForNodesAsync(ControlClient control, List<NodeProcess> processes, int count, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await control.ListNodesAsync(ct)).Count(x => x.TypedStatus().IsConnected()) < count)
        {
            if (processes.FirstOrDefault(p => !p.IsRunning) is { } dead) throw new CliException($"node '{dead.Name}' exited before the benchmark started");
            if (DateTime.UtcNow > deadline) throw new CliException($"fewer than {count} nodes came online within 60s");
            await Task.Delay(100, ct);
        }
    }

    /// <summary>Waits for a run to finish and returns it; <paramref name="progress"/> hears the rounds done after each poll.</summary>
    internal static async Task<Transport.V1.RunDetail> WaitAsync(ControlClient control, string id, CancellationToken ct, Action<int>? progress = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(30);
        while (true)
        {
            // The run list is a row per run; the run itself (every round and node result) is fetched once, at the end,
            // so that the poll costs the server the same at round 1,000 as at round 1.
            var run = (await control.ListAsync(null, ct)).FirstOrDefault(r => r.Id == id) ?? throw new CliException($"benchmark run {id} is not in the server's run list");
            progress?.Invoke(run.RoundsDone);
            if (run.TypedStatus() == RunStatus.Finished) return await control.GetAsync(id, ct);
            if (run.TypedStatus().IsFinal()) throw new CliException($"benchmark run {run.Status}: {run.Error}");
            if (DateTime.UtcNow > deadline) throw new CliException("benchmark run did not finish within 30 minutes");
            await Task.Delay(200, ct);
        }
    }

    /// <summary>
    /// A process that keeps one core busy until killed: the background load of a shared machine. The loop runs in a
    /// subshell; the shell itself waits for its standard input, this process's lifeline, to end, and then stops the loop,
    /// so a bench killed outright leaves no load behind (<see cref="ParentLifeline"/>).
    /// </summary>
    internal static Process StartBusyProcess()
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("while :; do :; done & while read -r _; do :; done; kill $!");
        ParentLifeline.Attach(psi);
        return Process.Start(psi) ?? throw new CliException("could not start a background load process");
    }

    internal static void StopBusyProcess(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        process.Dispose();
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
