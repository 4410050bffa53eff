using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Cohort.Cli.Control;
using Cohort.Cli.Demo;
using Cohort.Transport.Channels;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench spill</c>: the server's peak memory (VmHWM) while a strategy that needs every update
/// (fedmedian, fedtrimmedavg, krum, bulyan) aggregates one round of a large model from node processes
/// over TLS gRPC on loopback — once with every update held in memory (a budget above N models) and once
/// with every update on disk (<c>--update-memory-mb 0</c>), alternating, each on a fresh server.
/// </summary>
internal static class SpillBench
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var values = new Option<long>("--params") { Description = "Model size in float32 values (16777216: 64 MiB)", DefaultValueFactory = _ => 16L << 20 };
        var nodes = new Option<int>("--nodes") { Description = "Node processes", DefaultValueFactory = _ => 5 };
        var strategy = new Option<string>("--strategy") { Description = "A strategy that needs every update: fedmedian, fedtrimmedavg, krum or bulyan", DefaultValueFactory = _ => "fedmedian" };
        strategy.AcceptOnlyFromAmong("fedmedian", "fedtrimmedavg", "krum", "bulyan");
        var repeats = new Option<int>("--repeats") { Description = "Pairs of runs (in memory, then on disk)", DefaultValueFactory = _ => 1 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file (e.g. bench/results/spill-fedmedian.json)" };
        var command = new Command("spill", "Server peak memory of fedmedian/krum/bulyan with a round's updates held in memory against kept on disk")
        {
            values, nodes, strategy, repeats, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            long size = pr.GetValue(values);
            int n = pr.GetValue(nodes), pairs = pr.GetValue(repeats);
            string name = pr.GetValue(strategy)!;
            if (size < 1 || n < 1 || pairs < 1) throw new CliException("--params ≥ 1, --nodes ≥ 1 and --repeats ≥ 1");
            if (name == "bulyan" && n < 3) throw new CliException("--strategy bulyan needs --nodes ≥ 3");
            double modelMib = size * 4.0 / 1048576;
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["params"] = size,
                ["nodes"] = n,
                ["strategy"] = name,
                ["repeats"] = pairs,
                ["model_mib"] = Math.Round(modelMib, 3),
            });
            long allMib = (long)Math.Ceiling(modelMib) * (n + 1);
            var peaks = new Dictionary<string, List<double>> { ["memory"] = [], ["disk"] = [] };
            for (int pair = 0; pair < pairs; pair++)
            {
                foreach (var (mode, budgetMib) in new[] { ("memory", allMib), ("disk", 0L) })
                {
                    var (idle, peak, seconds) = await RunOnceAsync(name, size, n, budgetMib, allMib, ct);
                    Print(figures, $"{mode}.{pair + 1}.server.idle_rss_mib", idle);
                    Print(figures, $"{mode}.{pair + 1}.server.peak_rss_mib", peak);
                    Print(figures, $"{mode}.{pair + 1}.server.peak_above_idle_over_model", (peak - idle) / modelMib);
                    Print(figures, $"{mode}.{pair + 1}.round.seconds", seconds);
                    peaks[mode].Add((peak - idle) / modelMib);
                }
            }
            Print(figures, "memory.server.peak_above_idle_over_model.max", peaks["memory"].Max());
            Print(figures, "disk.server.peak_above_idle_over_model.max", peaks["disk"].Max());
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    private static async Task<(double Idle, double Peak, double Seconds)> RunOnceAsync(string strategy, long size, int n, long budgetMib, long allMib, CancellationToken ct)
    {
        string dir = BenchFigures.FreshFolder("bench-spill");
        string[] serverArguments =
        [
            "--durability", "process", "--upload-memory-mb", Mib(allMib), "--node-upload-memory-mb", Mib(allMib), "--update-memory-mb", Mib(budgetMib),
        ];
        await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"), serverArguments, Path.Combine(dir, "server.log"), ct);
        using var control = new ControlClient(new ConnectionOptions(server.Address, server.AdminToken, server.CaFile));
        var processes = new List<NodeProcess>();
        try
        {
            await RoundOverheadBench.StartEmptyNodesAsync(server, control, processes, n, dir, [$"values={size.ToString(CultureInfo.InvariantCulture)}", "fill=0.5"], ct);
            double idle = server.Memory().Peak;
            string plan = $$"""
                name: bench-spill
                app: { name: empty }
                strategy: { name: {{strategy}}, params: { memory_limit_mb: {{Mib(allMib)}} } }
                rounds: 1
                selection: { min_available: {{n}}, min_fit: {{n}}, min_evaluate: 0, fraction_fit: 1.0, fraction_evaluate: 0.0 }
                round_timeout: 60m
                """;
            var run = await control.SubmitAsync(plan, "bench", ct);
            var detail = await RoundOverheadBench.WaitAsync(control, run.Id, ct);
            var round = detail.Rounds.Single();
            return (idle, server.Memory().Peak, RunReport.Seconds(round.StartedAt, round.FinishedAt));
        }
        finally
        {
            foreach (var p in processes) await p.DisposeAsync();
        }
    }

    private static string Mib(long mib) => mib.ToString(CultureInfo.InvariantCulture);

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
