using System.CommandLine;
using System.Text.Json.Nodes;
using Cohort.Cli.Control;
using Cohort.Cli.Demo;
using Cohort.Transport.Channels;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench long-run</c>: one run of many rounds (a small model, a few node processes, a
/// <c>cohort server</c> process) with the server's resident memory read as the rounds go by, so memory
/// that grows with the number of rounds (a per-round cache, an event list, metric labels) shows up.
/// </summary>
internal static class LongRunBench
{
    private static readonly int[] Checkpoints = [10, 100, 500, 1000, 2000, 5000, 10000];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var rounds = new Option<int>("--rounds") { Description = "Rounds of the run", DefaultValueFactory = _ => 1000 };
        var nodes = new Option<int>("--nodes") { Description = "Node processes", DefaultValueFactory = _ => 3 };
        var values = new Option<int>("--values") { Description = "Model size in float32 values", DefaultValueFactory = _ => 1000 };
        var hygiene = new Option<int?>("--memory-hygiene-rounds") { Description = "Passed to the server (default: the server's own); 0 runs it without memory hygiene, for a before/after" };
        var spacing = new Option<double?>("--memory-hygiene-seconds") { Description = "Passed to the server (default: the server's own): the least time between two passes that rounds made due" };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("long-run", "One run of many rounds against a server process: the server's memory at round 10, 100, 500 and 1,000 (flat when nothing grows per round)")
        {
            rounds, nodes, values, hygiene, spacing, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int r = pr.GetValue(rounds), n = pr.GetValue(nodes), size = pr.GetValue(values);
            if (r < 10 || n < 1 || size < 1) throw new CliException("--rounds ≥ 10, --nodes ≥ 1 and --values ≥ 1");
            string dir = BenchFigures.FreshFolder("bench-long-run");
            int? every = pr.GetValue(hygiene);
            if (every < 0) throw new CliException("--memory-hygiene-rounds ≥ 0");
            double? seconds = pr.GetValue(spacing);
            var figures = BenchFigures.Begin(new JsonObject { ["rounds"] = r, ["nodes"] = n, ["values"] = size, ["memory_hygiene_rounds"] = every, ["memory_hygiene_seconds"] = seconds });
            var serverArguments = ServerProcess.MemoryHygieneArguments(every, seconds);
            await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"), serverArguments, Path.Combine(dir, "server.log"), ct);
            using var control = new ControlClient(new ConnectionOptions(server.Address, server.AdminToken, server.CaFile));
            var processes = new List<NodeProcess>();
            var curve = new JsonArray();
            try
            {
                await RoundOverheadBench.StartEmptyNodesAsync(server, control, processes, n, dir, [$"values={size}"], ct);
                Print(figures, "server.idle_rss_mib", server.Memory().Rss);
                string plan = $$"""
                    name: bench-long-run
                    app: { name: empty }
                    strategy: { name: fedavg }
                    rounds: {{r}}
                    selection: { min_available: {{n}}, min_fit: {{n}}, min_evaluate: {{n}}, fraction_fit: 1.0, fraction_evaluate: 1.0 }
                    round_timeout: 60s
                    """;
                var run = await control.SubmitAsync(plan, "bench", ct);
                var due = new Queue<int>(Checkpoints.Where(c => c < r).Append(r));
                int lastCurve = 0, lateFrom = r - r / 10;
                // A periodic memory pass makes resident memory a sawtooth: the figure at one round may be taken
                // just after a pass. The highest reading over the run's last tenth is the top of the tooth.
                double lateMax = 0;
                var deadline = DateTime.UtcNow + TimeSpan.FromHours(2);
                while (due.Count > 0)
                {
                    var info = (await control.ListAsync(null, ct)).First(x => x.Id == run.Id);
                    if (info.Status is "failed" or "stopped") throw new CliException($"benchmark run {info.Status} at round {info.RoundsDone}: {info.Error}");
                    var (rss, _) = server.Memory();
                    if (info.RoundsDone >= lateFrom) lateMax = Math.Max(lateMax, rss);
                    // The memory as soon as the round is seen done (the poll may see a round or two later).
                    while (due.Count > 0 && info.RoundsDone >= due.Peek())
                    {
                        int at = due.Dequeue();
                        Print(figures, $"server.rss_mib.round_{at}", rss);
                        Print(figures, $"server.rss_anon_mib.round_{at}", ProcessMemory.Breakdown(server.Id).Anon);
                        figures[$"server.rss_mib.round_{at}.seen_at_round"] = info.RoundsDone;
                    }
                    if (info.RoundsDone >= lastCurve + 10)
                    {
                        lastCurve = info.RoundsDone;
                        var (anonymous, mapped, shared, _, _) = ProcessMemory.Breakdown(server.Id);
                        curve.Add((JsonNode)new JsonObject { ["round"] = info.RoundsDone, ["server_rss_mib"] = Math.Round(rss, 1), ["anon_mib"] = Math.Round(anonymous, 1), ["file_mib"] = Math.Round(mapped, 1), ["shmem_mib"] = Math.Round(shared, 1) });
                    }
                    if (processes.FirstOrDefault(p => !p.IsRunning) is { } dead) throw new CliException($"node '{dead.Name}' exited during the run");
                    if (DateTime.UtcNow > deadline) throw new CliException("the run did not finish within 2 hours");
                    await Task.Delay(20, ct);
                }
                double first = figures["server.rss_mib.round_10"]!.GetValue<double>(), last = figures[$"server.rss_mib.round_{r}"]!.GetValue<double>();
                Print(figures, $"server.rss.round_{r}_over_round_10", last / first);
                Print(figures, $"server.rss_mib.max_from_round_{lateFrom}", lateMax);
                Print(figures, $"server.rss.max_from_round_{lateFrom}_over_round_10", lateMax / first);
                Print(figures, "server.peak_rss_mib", server.Memory().Peak);
                var detail = await control.GetAsync(run.Id, ct);
                var spans = detail.Rounds.Select(x => RunReport.Seconds(x.StartedAt, x.FinishedAt) * 1000).Order().ToArray();
                Print(figures, "round.ms.median", spans[spans.Length / 2]);
                Print(figures, "errors.failed_node_results", detail.Rounds.Sum(x => x.Nodes.Count(nr => !nr.Ok)));
                Print(figures, "run.events", detail.Events.Count);
                figures["rss_curve"] = curve;
            }
            finally
            {
                foreach (var p in processes) await p.DisposeAsync();
            }
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
