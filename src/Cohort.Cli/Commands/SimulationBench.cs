using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Clients;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Simulation;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench simulation</c>: many virtual clients, a few sampled per round. Measures what an idle
/// virtual client costs in memory and what a round costs beyond training: the same plan runs once with
/// logistic regression on a synthetic table and once with the empty app (fit returns at once). Then the
/// empty plan runs at each registered count of <c>--scale</c> (10k, 100k, 1M by default) over a small
/// table, so the orchestration time per round can be read against the number of registered clients:
/// with the sample fixed it should stay flat.
/// </summary>
internal static class SimulationBench
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var clients = new Option<int>("--clients") { Description = "Virtual clients", DefaultValueFactory = _ => 10_000 };
        var sampled = new Option<int>("--sampled") { Description = "Clients sampled per round", DefaultValueFactory = _ => 100 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds", DefaultValueFactory = _ => 20 };
        var rows = new Option<int>("--rows") { Description = "Rows of the synthetic table", DefaultValueFactory = _ => 200_000 };
        var workers = new Option<int>("--workers") { Description = "Clients run at once", DefaultValueFactory = _ => Environment.ProcessorCount };
        var scale = new Option<string>("--scale") { Description = "Registered client counts for the orchestration runs (comma-separated; empty for none)", DefaultValueFactory = _ => "10000,100000,1000000" };
        var scaleRows = new Option<int>("--scale-rows") { Description = "Examples of the small table the orchestration runs share out (fewer than clients: one example each)", DefaultValueFactory = _ => 100_000 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("simulation", "Simulation scale: memory per idle virtual client and orchestration time per round")
        {
            clients, sampled, rounds, rows, workers, scale, scaleRows, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int n = pr.GetValue(clients), k = pr.GetValue(sampled), r = pr.GetValue(rounds), w = pr.GetValue(workers);
            var scales = ParseScale(pr.GetValue(scale) ?? "");
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["clients"] = n,
                ["sampled"] = k,
                ["rounds"] = r,
                ["workers"] = w,
                ["rows"] = pr.GetValue(rows),
                ["scale_clients"] = new JsonArray(scales.Select(x => (JsonNode)x).ToArray()),
                ["scale_rows"] = pr.GetValue(scaleRows),
            });
            string dir = Path.Combine(Path.GetTempPath(), $"cohort-bench-sim-{Environment.ProcessId}");
            try
            {
                // Logistic regression on the synthetic table.
                var plan = Plan(Yaml("tabular", n, k, r, w, pr.GetValue(rows)));
                var options = new SimulationOptions { DataDir = Path.Combine(dir, "logistic"), PlanSource = "bench" };
                var setup = SimulationRunner.Prepare(plan, options);
                _ = setup.Dataset.Count; // preprocess before measuring
                Print(figures, "simulation.idle_client_bytes", IdleClientBytes(setup, n, w));
                Print(figures, "simulation.partition_bytes_per_client", setup.Partitions.ByteCount / (double)n);
                var logistic = await SimulationRunner.RunAsync(plan, options, setup, ct);
                Require(logistic);
                var (wall, fit) = await RoundTimes(options.DataDir, logistic.Run.Id, ct);
                Print(figures, "simulation.logistic.round_ms.median", Median(wall));
                Print(figures, "simulation.logistic.round_ms.p90", Percentile(wall, 0.9));
                Print(figures, "simulation.logistic.fit_ms_per_client.median", Median(fit));
                Print(figures, "simulation.logistic.final_central_accuracy", logistic.Rounds[^1].CentralMetrics.GetDouble("accuracy", double.NaN));

                // The same rounds with an empty fit: what is left is orchestration.
                var emptyPlan = Plan(Yaml("empty", n, k, r, w, pr.GetValue(rows)));
                var emptyOptions = options with { DataDir = Path.Combine(dir, "empty") };
                var empty = await SimulationRunner.RunAsync(emptyPlan, emptyOptions, ct);
                Require(empty);
                var (emptyWall, _) = await RoundTimes(emptyOptions.DataDir, empty.Run.Id, ct);
                Print(figures, "simulation.round_overhead_ms.median", Median(emptyWall));
                Print(figures, "simulation.round_overhead_ms.p90", Percentile(emptyWall, 0.9));
                Print(figures, "simulation.round_overhead_ms.min", emptyWall.Min());
                Print(figures, "simulation.peak_running_clients", Math.Max(logistic.PeakRunning, empty.PeakRunning));

                // Orchestration against registered clients: the same sample, ever more clients idle.
                foreach (int registered in scales)
                {
                    var scalePlan = Plan(Yaml("empty", registered, k, r, w, pr.GetValue(scaleRows)));
                    var scaleOptions = options with { DataDir = Path.Combine(dir, $"scale-{registered}") };
                    var setupClock = Stopwatch.StartNew();
                    var scaleSetup = SimulationRunner.Prepare(scalePlan, scaleOptions);
                    double setupSeconds = setupClock.Elapsed.TotalSeconds;
                    string prefix = $"simulation.scale.{registered}";
                    Print(figures, $"{prefix}.setup_s", setupSeconds);
                    Print(figures, $"{prefix}.idle_client_bytes", IdleClientBytes(scaleSetup, registered, w));
                    var scaled = await SimulationRunner.RunAsync(scalePlan, scaleOptions, scaleSetup, ct);
                    Require(scaled);
                    var (scaleWall, _) = await RoundTimes(scaleOptions.DataDir, scaled.Run.Id, ct);
                    Print(figures, $"{prefix}.round_ms.median", Median(scaleWall));
                    Print(figures, $"{prefix}.round_ms.p90", Percentile(scaleWall, 0.9));
                    Print(figures, $"{prefix}.round_ms.max", scaleWall.Max());
                    Print(figures, $"{prefix}.round_ms.min", scaleWall.Min());
                }
                using var self = Process.GetCurrentProcess();
                Print(figures, "process.peak_rss_mib", self.PeakWorkingSet64 / 1048576.0);
            }
            finally
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
            if (pr.GetValue(json) is { } file)
            {
                await BenchFigures.SaveAsync(figures, file, ct);
            }
            return 0;
        });
        return command;
    }

    private static int[] ParseScale(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(x => int.TryParse(x.Replace("_", ""), NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0
                ? v : throw new CliException($"--scale: '{x}' is not a positive whole number of clients"))
            .ToArray();

    private static string Yaml(string app, int clients, int sampled, int rounds, int workers, int rows)
    {
        string fraction = ((double)sampled / clients).ToString("R", CultureInfo.InvariantCulture);
        string settings = app == "tabular" ? "{ label: y, model: logistic, train_fraction: 0.8 }" : "{ values: 21 }";
        string data = app == "tabular" ? $"{{ synthetic: {{ rows: {rows}, features: 20 }} }}" : $"{{ examples: {rows} }}";
        return $$"""
            name: bench-simulation-{{app}}
            app: { name: {{app}}, settings: {{settings}} }
            strategy: { name: fedavg }
            rounds: {{rounds}}
            selection: { min_available: {{clients}}, min_fit: {{sampled}}, fraction_fit: {{fraction}}, fraction_evaluate: 0.0 }
            train: { local_epochs: 1, batch_size: 10, optimizer: sgd, learning_rate: 0.1 }
            seed: 7
            simulation: { clients: {{clients}}, workers: {{workers}}, partitioner: iid, data: {{data}} }
            """;
    }

    private static Plan Plan(string yaml) => PlanParser.Parse(yaml, "bench", Cohort.Strategies.StrategyRegistry.CreateDefault());

    /// <summary>Bytes the pool of idle clients adds: partitions, names and the pool itself, per client.</summary>
    private static double IdleClientBytes(SimulationRunner.Setup setup, int clients, int workers)
    {
        // A fresh copy of the partition set plus the pool, measured against everything else already loaded.
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var partitions = new Simulation.Partitioners.PartitionSet(CopyIndices(setup.Partitions), Offsets(setup.Partitions));
        var pool = new VirtualNodePool(setup.Factory, setup.Dataset, partitions, workers);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(pool);
        GC.KeepAlive(partitions);
        pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return (after - before) / (double)clients;
    }

    private static int[] CopyIndices(Simulation.Partitioners.PartitionSet p)
    {
        var all = new int[p.TotalIndices];
        int at = 0;
        for (int c = 0; c < p.Clients; c++)
        {
            p.Of(c).Span.CopyTo(all.AsSpan(at));
            at += p.SizeOf(c);
        }
        return all;
    }

    private static int[] Offsets(Simulation.Partitioners.PartitionSet p)
    {
        var offsets = new int[p.Clients + 1];
        for (int c = 0; c < p.Clients; c++) offsets[c + 1] = offsets[c] + p.SizeOf(c);
        return offsets;
    }

    private static async Task<(double[] RoundMs, double[] FitMs)> RoundTimes(string dataDir, string runId, CancellationToken ct)
    {
        var store = new SqliteStateStore(Path.Combine(dataDir, "cohort.db"));
        var rounds = await store.ListRoundsAsync(runId, ct);
        var results = await store.ListNodeResultsAsync(runId, ct);
        var wall = rounds.Select(x => (x.FinishedAt!.Value - x.StartedAt).TotalMilliseconds).ToArray();
        var fit = results.Where(x => x.Kind == TaskKind.Fit).Select(x => x.DurationSeconds * 1000).ToArray();
        return (wall, fit);
    }

    private static void Require(SimulationResult result)
    {
        if (result.Run.Status != RunStatus.Finished) throw new CliException($"benchmark simulation {result.Run.Status.ToText()}: {result.Run.Error}");
    }

    private static double Median(double[] values) => Percentile(values, 0.5);

    private static double Percentile(double[] values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
