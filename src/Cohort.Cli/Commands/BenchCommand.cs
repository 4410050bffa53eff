using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Cli.Demo;
using Cohort.Engine.State;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort bench …</c>: benchmarks that print machine-readable figures.</summary>
public static class BenchCommand
{
    /// <summary>Builds the command group.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks (figures as 'name value' lines; --json writes bench/results)");
        bench.Subcommands.Add(RoundOverhead());
        bench.Subcommands.Add(FlambyBench.Create());
        bench.Subcommands.Add(FedBuffBench.Create());
        bench.Subcommands.Add(AggregateBench.Create());
        bench.Subcommands.Add(DashboardBench.Create());
        bench.Subcommands.Add(SimulationBench.Create());
        bench.Subcommands.Add(FedAvgPaperBench.Create());
        bench.Subcommands.Add(TrainBench.Create());
        bench.Subcommands.Add(FuzzBench.Create());
        bench.Subcommands.Add(FraudBench.Create());
        bench.Subcommands.Add(ByzantineBench.Create());
        return bench;
    }

    private static Command RoundOverhead()
    {
        var nodes = new Option<int>("--nodes") { Description = "Node processes", DefaultValueFactory = _ => 4 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds per measurement", DefaultValueFactory = _ => 30 };
        var values = new Option<int>("--values") { Description = "Model size in float32 values", DefaultValueFactory = _ => 1000 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("round-overhead", "Orchestration time of one round with an empty fit: N node processes over TLS gRPC on loopback")
        {
            nodes, rounds, values, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int n = pr.GetValue(nodes), r = pr.GetValue(rounds), size = pr.GetValue(values);
            string dir = Path.GetFullPath(".cohort/bench-round-overhead");
            var sites = Enumerable.Range(1, n).Select(i => ($"site{i}", (IReadOnlyList<string>)["--set", $"values={size}"])).ToArray();
            await using var federation = await LocalFederation.StartAsync(dir, "empty", sites, ct);
            var figures = BenchFigures.Begin(new JsonObject { ["nodes"] = n, ["rounds"] = r, ["values"] = size });
            foreach (bool evaluate in new[] { false, true })
            {
                string plan = $$"""
                    name: bench-round-overhead
                    app: { name: empty }
                    strategy: { name: fedavg }
                    rounds: {{r + 3}}
                    selection: { min_available: {{n}}, min_fit: {{n}}, min_evaluate: {{(evaluate ? n : 0)}}, fraction_fit: 1.0, fraction_evaluate: {{(evaluate ? "1.0" : "0.0")}} }
                    round_timeout: 30s
                    """;
                var run = await federation.Control.SubmitAsync(plan, "bench", ct);
                var detail = await WaitAsync(federation, run.Id, ct);
                // The first rounds warm up the JIT on both sides; they are not counted.
                var times = detail.Rounds.Where(x => x.Round > 3)
                    .Select(x => RunReportSeconds(x.StartedAt, x.FinishedAt) * 1000).Order().ToArray();
                string prefix = evaluate ? "round.fit_evaluate" : "round.fit";
                Print(figures, $"{prefix}.ms.median", times[times.Length / 2]);
                Print(figures, $"{prefix}.ms.p10", times[times.Length / 10]);
                Print(figures, $"{prefix}.ms.p90", times[times.Length * 9 / 10]);
            }
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            Print(figures, "server.rss_mib", self.WorkingSet64 / 1048576.0);
            if (pr.GetValue(json) is { } file)
            {
                await BenchFigures.SaveAsync(figures, file, ct);
            }
            return 0;
        });
        return command;
    }

    private static double RunReportSeconds(string start, string end) => Control.RunReport.Seconds(start, end);

    private static async Task<Transport.V1.RunDetail> WaitAsync(LocalFederation federation, string id, CancellationToken ct)
    {
        while (true)
        {
            var detail = await federation.Control.GetAsync(id, ct);
            if (RunStatus.IsFinal(detail.Run.Status))
                return detail.Run.Status == RunStatus.Finished ? detail : throw new CliException($"benchmark run {detail.Run.Status}: {detail.Run.Error}");
            await Task.Delay(200, ct);
        }
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
