using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Apps.Mnist;
using Cohort.Cli.Demo;
using Cohort.Plans;
using Cohort.Simulation;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench fedavg-paper</c>: McMahan et al. 2017 on MNIST as a simulation. 100 clients, C = 0.1,
/// B = 10; 2NN with E = 1 to 97% (IID and 2 shards of 300 per client) and CNN with E = 5 to 99% (IID).
/// Reports the rounds each took to reach its target beside the paper's (Table 2: 87, 664, 20) and the
/// wall time per round; runs stop at the target or at --max-rounds. <c>--sweep</c> instead chooses the
/// learning rate as the paper's grid did, scored on a validation split held out of the training images, so
/// the test images are only ever scored by the runs that report.
/// </summary>
internal static class FedAvgPaperBench
{
    /// <summary>One row of the paper's table: network, local epochs, IID or 2 label-sorted shards per client, target and the paper's rounds.</summary>
    internal sealed record Experiment(string Name, string Model, bool NonIid, int Epochs, double Target, int PaperRounds)
    {
        /// <summary>The plan's partitioner: IID, or McMahan's shards (2 per client, sized to share out all <paramref name="images"/>: 300 of the 60,000).</summary>
        public string Partitioner(int images, int clients) =>
            NonIid ? $"{{ name: shards, params: {{ shards_per_client: 2, shard_size: {images / (clients * 2)} }} }}" : "iid";
    }

    /// <summary>
    /// The federation's size: clients (the paper's 100), the training images shared out (all 60,000, or
    /// the first N for a quick check) and the images a validation split holds out of them.
    /// </summary>
    internal sealed record Scale(int Clients, int TrainImages, int ValidationImages)
    {
        /// <summary>The paper's protocol: 100 clients over the 60,000 training images; a sweep holds out 6,000 (10%).</summary>
        public static Scale Paper { get; } = new(100, 60_000, 6_000);
    }

    internal static readonly Experiment[] Experiments =
    [
        new("2nn-iid", "2nn", false, 1, 0.97, 87),
        new("2nn-noniid", "2nn", true, 1, 0.97, 664),
        new("cnn-iid", "cnn", false, 5, 0.99, 20),
    ];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var which = new Option<string[]>("--experiment") { Description = $"Experiments to run ({string.Join(", ", Experiments.Select(e => e.Name))}); default all", AllowMultipleArgumentsPerToken = true };
        var maxRounds = new Option<int>("--max-rounds") { Description = "Stop an experiment after this many rounds if it has not reached its target", DefaultValueFactory = _ => 1000 };
        // The 2NN default is what --sweep chose on the validation split for both settings (docs/benchmarks.md); the CNN's is not swept.
        var lr2nn = new Option<double>("--lr-2nn") { Description = "Learning rate of the 2NN experiments (default: the validation sweep's choice for IID and non-IID)", DefaultValueFactory = _ => 0.2 };
        var lrCnn = new Option<double>("--lr-cnn") { Description = "Learning rate of the CNN experiment (not chosen by a sweep)", DefaultValueFactory = _ => 0.1 };
        var workers = new Option<int>("--workers") { Description = "Clients trained at once", DefaultValueFactory = _ => Environment.ProcessorCount };
        var data = new Option<string>("--data") { Description = "MNIST IDX folder", DefaultValueFactory = _ => "examples/mnist/data" };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per experiment (2017, 2018, …): each changes the partition, client sampling, initial model and batch order", DefaultValueFactory = _ => 5 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var sweep = new Option<string?>("--sweep")
        {
            Description = $"Instead of the test-set runs, choose the learning rate: run each rate of this comma-separated grid (e.g. 0.03,0.05,0.1,0.2) for --sweep-rounds rounds on a validation split ({Scale.Paper.ValidationImages:N0} training images held out, seed {FirstSeed}; the other {Scale.Paper.TrainImages - Scale.Paper.ValidationImages:N0} partitioned as the protocol says) and pick the best mean validation accuracy over the last {SustainedWindow} rounds. The test images are not read",
        };
        var sweepRounds = new Option<int>("--sweep-rounds") { Description = "Rounds each grid point of --sweep runs (a fixed budget, no early stop)", DefaultValueFactory = _ => 40 };
        var command = new Command("fedavg-paper", "FedAvg paper reproduction on MNIST: rounds to target accuracy (median and range over seeds) beside the paper's, wall time per round; --sweep chooses the learning rate on a validation split")
        {
            which, maxRounds, lr2nn, lrCnn, workers, data, seeds, json, sweep, sweepRounds,
        };
        command.SetAction(async (pr, ct) =>
        {
            var names = pr.GetValue(which) is { Length: > 0 } w ? w : Experiments.Select(e => e.Name).ToArray();
            foreach (var n in names)
            {
                if (!Experiments.Any(e => e.Name == n)) throw new CliException($"--experiment: unknown '{n}' (allowed: {string.Join(", ", Experiments.Select(e => e.Name))})");
            }
            string folder = Path.GetFullPath(pr.GetValue(data)!);
            int seedCount = pr.GetValue(seeds);
            if (seedCount < 1) throw new CliException($"--seeds: {seedCount} is not a positive count");
            if (pr.GetValue(sweep) is { } gridText)
            {
                var grid = ParseGrid(gridText);
                int budget = pr.GetValue(sweepRounds);
                if (budget < 1) throw new CliException($"--sweep-rounds: {budget} is not a positive count");
                var sweepFigures = BenchFigures.Begin(new JsonObject
                {
                    ["mode"] = "learning-rate sweep on a validation split (test images not read)",
                    ["grid"] = new JsonArray(grid.Select(g => (JsonNode?)g).ToArray()),
                    ["rounds_per_grid_point"] = budget,
                    ["seed"] = FirstSeed,
                    ["validation_images"] = Scale.Paper.ValidationImages,
                    ["validation_seed"] = FirstSeed,
                    ["score"] = $"mean validation accuracy over the last {SustainedWindow} of the {budget} rounds; ties go to the earlier grid value",
                });
                foreach (var e in Experiments.Where(e => names.Contains(e.Name)))
                {
                    sweepFigures[e.Name] = await SweepAsync(e, grid, budget, pr.GetValue(workers), folder, Scale.Paper, Console.Out, ct);
                }
                if (pr.GetValue(json) is { } sweepFile)
                {
                    await BenchFigures.SaveAsync(sweepFigures, sweepFile, ct);
                }
                return 0;
            }
            var figures = BenchFigures.Begin(new JsonObject { ["max_rounds"] = pr.GetValue(maxRounds), ["seeds"] = seedCount });
            foreach (var e in Experiments.Where(e => names.Contains(e.Name)))
            {
                double lr = e.Model == "cnn" ? pr.GetValue(lrCnn) : pr.GetValue(lr2nn);
                var runs = new List<JsonObject>();
                var crossings = new List<double>();
                var sustained = new List<double>();
                for (int s = 0; s < seedCount; s++)
                {
                    var run = await RunAsync(e, lr, pr.GetValue(maxRounds), pr.GetValue(workers), folder, FirstSeed + s, Scale.Paper, validation: false, Console.Out, ct);
                    runs.Add(run);
                    // A seed that never got there counts as beyond the last round run (ranks last; the range says so).
                    crossings.Add(run["rounds_to_target"]?.GetValue<int>() ?? double.PositiveInfinity);
                    sustained.Add(run["rounds_to_target_sustained"]?.GetValue<int>() ?? double.PositiveInfinity);
                    bool last = s == seedCount - 1;
                    figures[e.Name] = Summary(e, lr, runs, crossings, sustained, print: last);
                    // Written after every seed: a long run stopped part way keeps the seeds it finished (seeds_completed says how many).
                    if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
                }
            }
            return 0;
        });
        return command;
    }

    /// <summary>Median and range over the seeds run so far of the first and the sustained crossing.</summary>
    private static JsonObject Summary(Experiment e, double lr, List<JsonObject> runs, List<double> crossings, List<double> sustained, bool print)
    {
        string prefix = $"fedavg_paper.{e.Name}";
        var summary = new JsonObject
        {
            ["target"] = e.Target,
            ["paper_rounds"] = e.PaperRounds,
            ["learning_rate"] = lr,
            ["seeds_completed"] = runs.Count,
            ["runs"] = new JsonArray(runs.Select(r => (JsonNode?)r.DeepClone()).ToArray()),
        };
        foreach (var (key, values) in new[] { ("rounds_to_target", crossings), ("rounds_to_target_sustained", sustained) })
        {
            var sorted = values.Order().ToArray();
            double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
            if (print) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{prefix}.{key}.median {median}  (range {sorted[0]}–{sorted[^1]}, seeds {runs.Count}; paper {e.PaperRounds})"));
            summary[$"{key}_median"] = double.IsFinite(median) ? median : null;
            summary[$"{key}_min"] = double.IsFinite(sorted[0]) ? sorted[0] : null;
            summary[$"{key}_max"] = double.IsFinite(sorted[^1]) ? sorted[^1] : null;
            summary[$"{key}_per_seed"] = new JsonArray(values.Select(v => (JsonNode?)(double.IsFinite(v) ? v : null)).ToArray());
        }
        return summary;
    }

    /// <summary>The first seed; the paper's year.</summary>
    public const int FirstSeed = 2017;

    /// <summary>Rounds whose mean accuracy must reach the target for the sustained figure (a one-round spike does not count).</summary>
    public const int SustainedWindow = 3;

    /// <summary>
    /// Chooses <paramref name="e"/>'s learning rate: each value of <paramref name="grid"/> runs
    /// <paramref name="rounds"/> rounds (seed <see cref="FirstSeed"/>) on the validation split and scores the
    /// mean validation accuracy of its last <see cref="SustainedWindow"/> rounds; <see cref="Best"/> picks.
    /// </summary>
    internal static async Task<JsonObject> SweepAsync(Experiment e, IReadOnlyList<double> grid, int rounds, int workers, string folder, Scale scale, TextWriter log, CancellationToken ct)
    {
        var points = new JsonArray();
        var scores = new List<double>();
        foreach (double lr in grid)
        {
            var run = await RunAsync(e, lr, rounds, workers, folder, FirstSeed, scale, validation: true, log, ct);
            // A diverged model scores NaN (null in the JSON): it never wins.
            var curve = run["accuracy_per_round"]!.AsArray().Select(a => a?.GetValue<double>() ?? double.NaN).ToArray();
            double score = curve.Length == 0 ? double.NaN : curve[Math.Max(0, curve.Length - SustainedWindow)..].Average();
            scores.Add(score);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fedavg_paper.sweep.{e.Name}.lr{lr:R}.validation_score {score:0.0000}"));
            points.Add((JsonNode)new JsonObject
            {
                ["learning_rate"] = lr,
                ["validation_score"] = Number(score, 4),
                ["diverged"] = curve.Any(double.IsNaN),
                ["validation_rounds_to_target"] = run["rounds_to_target"]?.DeepClone(),
                ["best_validation_accuracy"] = run["best_accuracy"]?.DeepClone(),
                ["seconds_per_round_median"] = run["seconds_per_round_median"]?.DeepClone(),
                ["run_error"] = run["run_error"]?.DeepClone(),
                ["validation_accuracy_per_round"] = run["accuracy_per_round"]!.DeepClone(),
            });
        }
        double chosen = grid[Best(scores)];
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fedavg_paper.sweep.{e.Name}.chosen_learning_rate {chosen:R}  (grid {string.Join(", ", grid.Select(g => g.ToString("R", CultureInfo.InvariantCulture)))}; {rounds} rounds each on the validation split)"));
        int trainImages = scale.TrainImages - scale.ValidationImages;
        return new JsonObject
        {
            ["target"] = e.Target,
            ["rounds_per_grid_point"] = rounds,
            ["seed"] = FirstSeed,
            ["split"] = $"{scale.ValidationImages} of the {scale.TrainImages} training images held out (first {scale.ValidationImages} of a shuffle seeded {FirstSeed}) as the validation set; the other {trainImages} shared out among {scale.Clients} clients by {e.Partitioner(trainImages, scale.Clients)}",
            ["grid"] = points,
            ["chosen_learning_rate"] = chosen,
        };
    }

    /// <summary>A rounded figure, or null where it is not a number (a diverged model's accuracy): JSON has no NaN.</summary>
    private static JsonNode? Number(double value, int decimals) => double.IsFinite(value) ? Math.Round(value, decimals) : null;

    /// <summary>The index of the highest score; the earliest on a tie, and a NaN score never wins.</summary>
    internal static int Best(IReadOnlyList<double> scores)
    {
        if (scores.Count == 0) throw new ArgumentException("no scores to choose from", nameof(scores));
        int best = 0;
        for (int i = 1; i < scores.Count; i++)
            if (scores[i] > scores[best] || (double.IsNaN(scores[best]) && !double.IsNaN(scores[i]))) best = i;
        return best;
    }

    /// <summary>Reads <c>--sweep</c>'s comma-separated learning rates; a bad, non-positive or repeated value is named.</summary>
    internal static IReadOnlyList<double> ParseGrid(string text)
    {
        var grid = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double lr) || !double.IsFinite(lr) || lr <= 0)
                throw new CliException($"--sweep: '{part}' is not a positive learning rate (give e.g. 0.03,0.05,0.1,0.2)");
            if (grid.Contains(lr)) throw new CliException($"--sweep: {part} is given twice");
            grid.Add(lr);
        }
        return grid;
    }

    /// <summary>
    /// The loaded and partitioned data of one run; with <paramref name="validation"/> the evaluation set is
    /// <see cref="Scale.ValidationImages"/> held-out training images (seed <see cref="FirstSeed"/>) and only the
    /// rest are partitioned.
    /// </summary>
    internal static (Plan Plan, SimulationRunner.Setup Setup) Prepare(Experiment e, double lr, int maxRounds, int workers, string folder, int seed, Scale scale, bool validation)
    {
        // Threads per client: the cores shared among the clients that train at once.
        int threads = Math.Max(1, Environment.ProcessorCount / workers);
        int shared = validation ? scale.TrainImages - scale.ValidationImages : scale.TrainImages;
        string trainExamples = scale.TrainImages < Scale.Paper.TrainImages ? $", train_examples: {scale.TrainImages}" : "";
        string yaml = $$"""
            name: fedavg-paper-{{e.Name}}
            app: { name: mnist, settings: { model: {{e.Model}}, threads: {{threads}}{{trainExamples}} } }
            strategy: { name: fedavg }
            rounds: {{maxRounds}}
            selection: { min_available: {{scale.Clients}}, min_fit: {{Math.Max(1, scale.Clients / 10)}}, fraction_fit: 0.1, fraction_evaluate: 0.0 }
            round_timeout: 1h
            train: { local_epochs: {{e.Epochs}}, batch_size: 10, optimizer: sgd, learning_rate: {{lr.ToString("R", CultureInfo.InvariantCulture)}} }
            seed: {{seed}}
            simulation: { clients: {{scale.Clients}}, workers: {{workers}}, partitioner: {{e.Partitioner(shared, scale.Clients)}}, data: "{{folder}}" }
            """;
        var plan = PlanParser.Parse(yaml, $"bench {e.Name}", StrategyRegistry.CreateDefault());
        var options = new SimulationOptions { DataDir = "unused", PlanSource = $"bench {e.Name}" };
        Func<ISimulationDataset, ISimulationDataset>? reshape = validation
            ? d => ((MnistSimulationDataset)d).HoldOutValidation(scale.ValidationImages, FirstSeed)
            : null;
        return (plan, SimulationRunner.Prepare(plan, options, reshape));
    }

    private static async Task<JsonObject> RunAsync(Experiment e, double lr, int maxRounds, int workers, string folder, int seed, Scale scale, bool validation, TextWriter log, CancellationToken ct)
    {
        var (plan, setup) = Prepare(e, lr, maxRounds, workers, folder, seed, scale, validation);
        string what = validation ? "validation" : "test";
        string dir = Path.Combine(Path.GetTempPath(), $"cohort-fedavg-paper-{Environment.ProcessId}-{e.Name}-{seed}-{what}");
        int? reached = null, sustained = null;
        string? error = null;
        var bestSoFar = new JsonArray();
        var recent = new Queue<double>();
        double best = 0;
        var seconds = new List<double>();
        var accuracy = new JsonArray();
        var clock = Stopwatch.StartNew();
        var roundClock = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var options = new SimulationOptions
        {
            DataDir = dir,
            PlanSource = $"bench {e.Name}",
            OnRound = (round, _) =>
            {
                seconds.Add(roundClock.Elapsed.TotalSeconds);
                roundClock.Restart();
                double acc = round.CentralMetrics.GetDouble("accuracy", double.NaN);
                if (!double.IsNaN(acc)) best = Math.Max(best, acc);
                accuracy.Add(Number(acc, 4));
                bestSoFar.Add((JsonNode)Math.Round(best, 4));
                recent.Enqueue(acc);
                if (recent.Count > SustainedWindow) recent.Dequeue();
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{e.Name} seed {seed} lr {lr:R} round {round.Round,4}: {what} accuracy {acc:0.0000}, best so far {best:0.0000}  ({seconds[^1]:0.0}s)"));
                if (acc >= e.Target && reached is null) reached = round.Round;
                // Keep going past a first crossing until the last rounds hold the target on average; a sweep runs its whole budget.
                if (!validation && recent.Count == SustainedWindow && recent.Average() >= e.Target && sustained is null)
                {
                    sustained = round.Round;
                    stop.Cancel();
                }
                return Task.CompletedTask;
            },
        };
        try
        {
            var result = await SimulationRunner.RunAsync(plan, options, setup, stop.Token);
            // A run that failed (a diverged model's NaN update is refused) ends early: say why in the JSON.
            error = result.Run.Error;
        }
        catch (OperationCanceledException) when (sustained is not null && !ct.IsCancellationRequested)
        {
            // Stopped at the target on purpose.
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
        var sorted = seconds.Order().ToArray();
        double median = sorted.Length > 0 ? sorted[sorted.Length / 2] : double.NaN;
        if (!validation)
        {
            string prefix = $"fedavg_paper.{e.Name}.seed{seed}";
            log.WriteLine($"{prefix}.rounds_to_target {(reached?.ToString(CultureInfo.InvariantCulture) ?? $"not_reached_in_{seconds.Count}")}");
            log.WriteLine($"{prefix}.rounds_to_target_sustained {(sustained?.ToString(CultureInfo.InvariantCulture) ?? $"not_reached_in_{seconds.Count}")}");
            log.WriteLine($"{prefix}.paper_rounds {e.PaperRounds}");
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{prefix}.best_accuracy {best:0.0000}"));
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{prefix}.seconds_per_round.median {median:0.###}"));
            log.WriteLine($"{prefix}.rounds_run {seconds.Count}");
        }
        return new JsonObject
        {
            ["seed"] = seed,
            ["target"] = e.Target,
            ["rounds_to_target"] = reached,
            ["rounds_to_target_sustained"] = sustained,
            ["paper_rounds"] = e.PaperRounds,
            ["rounds_run"] = seconds.Count,
            ["best_accuracy"] = Math.Round(best, 4),
            ["seconds_per_round_median"] = Number(median, 3),
            ["wall_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
            ["learning_rate"] = lr,
            ["run_error"] = error,
            ["accuracy_per_round"] = accuracy,
            ["best_so_far_per_round"] = bestSoFar,
        };
    }
}
