using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Apps.Tabular;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Learning.Data;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench fedbuff</c>: the heart-disease plan over the four hospitals with one site ten times
/// slower than the others, run through the server's executor as synchronous FedAvg (waiting for every
/// site), synchronous FedAvg with a round deadline, synchronous FedAvg with over-selection (the round
/// closes at its first K results) and FedBuff. Each races to a mean validation accuracy fixed before the
/// timed runs; test accuracy is scored once, on each run's final model.
/// </summary>
internal static class FedBuffBench
{
    private static readonly string[] Hospitals = ["cleveland", "hungarian", "switzerland", "va"];
    private static readonly string[] AllBaselines = ["sync", "deadline", "overselect", "fedbuff"];

    /// <summary>Share of each hospital's training rows held out as its validation split (the tabular app's own default).</summary>
    private const double ValidationFraction = 0.2;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var planPath = new Option<string>("--plan") { Description = "The heart-disease plan", DefaultValueFactory = _ => "examples/heart-disease/plan.yaml" };
        var slow = new Option<string>("--slow") { Description = "The slow hospital", DefaultValueFactory = _ => "cleveland" };
        var fastMs = new Option<int>("--fast-ms") { Description = "Extra time per fit at the other hospitals (ms)", DefaultValueFactory = _ => 50 };
        var factor = new Option<int>("--factor") { Description = "How many times slower the slow hospital is", DefaultValueFactory = _ => 10 };
        var buffer = new Option<int>("--buffer") { Description = "FedBuff's K (arrivals per update)", DefaultValueFactory = _ => 3 };
        var versions = new Option<int>("--versions") { Description = "FedBuff model versions to run; also the rounds of the deadline and over-selection baselines", DefaultValueFactory = _ => 60 };
        var lr = new Option<double?>("--learning-rate") { Description = "Local learning rate (default: the plan's)" };
        var rounds = new Option<int>("--rounds") { Description = "Rounds of the synchronous run that waits for every site (and of the pilot)", DefaultValueFactory = _ => 30 };
        var hidden = new Option<string>("--hidden") { Description = "Hidden layer sizes of the MLP trained (comma-separated); 'none' keeps the plan's logistic regression", DefaultValueFactory = _ => "32" };
        var trace = new Option<bool>("--trace") { Description = "Print every evaluation (version, seconds, validation accuracy)" };
        var seeds = new Option<int>("--seeds") { Description = "Seeds (1, 2, …): initial model and batch orders; the order of the runs rotates with the seed", DefaultValueFactory = _ => 5 };
        var target = new Option<double?>("--target") { Description = "Mean validation accuracy every run races to (default: from the pilot, see --plateau)" };
        var plateau = new Option<int>("--plateau") { Description = "Without --target: the pilot's plateau is its mean validation accuracy (synchronous, seed 0) over its last this many rounds", DefaultValueFactory = _ => 10 };
        var share = new Option<double>("--target-share") { Description = "Without --target: the target is this share of the pilot's plateau", DefaultValueFactory = _ => 0.98 };
        var deadline = new Option<int>("--deadline-ms") { Description = "Round timeout of the deadline baseline (ms); the slow site's results arrive after it", DefaultValueFactory = _ => 200 };
        var accept = new Option<int>("--accept-first") { Description = "Over-selection baseline: results that close a round of all four sites (selection.accept_first)", DefaultValueFactory = _ => 3 };
        var baselines = new Option<string>("--baselines") { Description = "Comma-separated runs per seed: sync, deadline, overselect, fedbuff", DefaultValueFactory = _ => string.Join(',', AllBaselines) };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("fedbuff", "FedBuff against synchronous FedAvg (waiting, with a deadline, with over-selection) with one node N times slower: wall time to a validation accuracy fixed beforehand, over seeds")
        {
            planPath, slow, fastMs, factor, buffer, versions, lr, rounds, hidden, seeds, target, plateau, share, deadline, accept, baselines, trace, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            string path = pr.GetValue(planPath)!;
            var parsed = PlanParser.ParseFile(path, StrategyRegistry.CreateDefault());
            var plan = parsed with
            {
                Rounds = pr.GetValue(rounds),
                Train = parsed.Train with { LearningRate = pr.GetValue(lr) ?? parsed.Train.LearningRate },
                // Logistic regression on this data reaches its plateau accuracy within a round, which leaves nothing to race to.
                App = pr.GetValue(hidden) is "none" ? parsed.App : parsed.App with
                {
                    Settings = parsed.App.Settings.With([KeyValuePair.Create("model", Scalar.Of("mlp")), KeyValuePair.Create("hidden", Scalar.Of(pr.GetValue(hidden)!))]),
                },
                Selection = new Selection(4, 4, 0, 1.0, 0.0),
                WaitForNodes = TimeSpan.FromSeconds(10),
            };
            string dataDir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "data");
            string slowNode = pr.GetValue(slow)!;
            if (!Hospitals.Contains(slowNode)) throw new CliException($"--slow '{slowNode}': not a hospital (allowed: {string.Join(", ", Hospitals)})");
            var fast = TimeSpan.FromMilliseconds(pr.GetValue(fastMs));
            var delays = Hospitals.ToDictionary(h => h, h => h == slowNode ? fast * pr.GetValue(factor) : fast);
            int seedCount = pr.GetValue(seeds);
            if (seedCount < 1) throw new CliException($"--seeds: {seedCount} is not a positive count");
            int acceptFirst = pr.GetValue(accept);
            if (acceptFirst < 1 || acceptFirst > Hospitals.Length) throw new CliException($"--accept-first: {acceptFirst} is not between 1 and {Hospitals.Length}");
            if (!(pr.GetValue(share) is > 0 and <= 1)) throw new CliException($"--target-share: {pr.GetValue(share)} is not a share between 0 (exclusive) and 1");
            if (pr.GetValue(deadline) <= 0) throw new CliException($"--deadline-ms: {pr.GetValue(deadline)} is not a positive time");
            var chosen = pr.GetValue(baselines)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (chosen.Length == 0) throw new CliException($"--baselines '{pr.GetValue(baselines)}': names no run (allowed: {string.Join(", ", AllBaselines)})");
            if (chosen.FirstOrDefault(b => !AllBaselines.Contains(b)) is { } unknown)
                throw new CliException($"--baselines: '{unknown}' is not a run (allowed: {string.Join(", ", AllBaselines)})");
            chosen = chosen.Distinct().ToArray();

            Plan PlanFor(string baseline, int seed) => baseline switch
            {
                "sync" => plan with { Seed = seed },
                // A practitioner's deadline: the round ends when it passes; the slow site's result, still on its way, is a timeout.
                "deadline" => plan with { Seed = seed, Rounds = pr.GetValue(versions), RoundTimeout = TimeSpan.FromMilliseconds(pr.GetValue(deadline)), Selection = new Selection(4, 1, 0, 1.0, 0.0) },
                "overselect" => plan with { Seed = seed, Rounds = pr.GetValue(versions), Selection = new Selection(4, acceptFirst, 0, 1.0, 0.0) { AcceptFirst = acceptFirst } },
                _ => plan with
                {
                    Seed = seed,
                    Rounds = pr.GetValue(versions),
                    Asynchronous = new AsynchronousSpec { BufferSize = pr.GetValue(buffer), Staleness = new Staleness { Type = "polynomial", A = 0.5 } },
                },
            };

            var figures = BenchFigures.Begin(new JsonObject
            {
                ["slow"] = slowNode,
                ["fast_ms"] = fast.TotalMilliseconds,
                ["factor"] = pr.GetValue(factor),
                ["seeds"] = seedCount,
                ["baselines"] = string.Join(',', chosen),
                ["deadline_ms"] = pr.GetValue(deadline),
                ["accept_first"] = acceptFirst,
                ["rounds"] = pr.GetValue(rounds),
                ["versions"] = pr.GetValue(versions),
                ["validation_fraction"] = ValidationFraction,
                ["clock"] = "seconds until the mean validation accuracy over the four hospitals first reaches the target; evaluations pause it",
            });
            string folder = Path.Combine(Path.GetTempPath(), $"cohort-bench-fedbuff-{Environment.ProcessId}");
            try
            {
                // Warm-up: every executor once, two rounds, untimed, so that none pays the JIT and thread-pool growth in a timed run.
                foreach (var b in chosen) await TimedRunAsync(PlanFor(b, 1000) with { Rounds = 2 }, dataDir, delays, Path.Combine(folder, $"warm-{b}"), ct);

                double goal;
                if (pr.GetValue(target) is { } fixedTarget)
                {
                    goal = fixedTarget;
                    figures["target_from"] = "--target";
                }
                else
                {
                    // The pilot: a synchronous run waiting for every site, seed 0 (no timed run uses it). Its plateau on
                    // validation is the target, fixed before any timed run starts.
                    int last = pr.GetValue(plateau);
                    var pilot = await TimedRunAsync(PlanFor("sync", 0), dataDir, delays, Path.Combine(folder, "pilot"), ct);
                    if (last < 1 || last > pilot.Trace.Count) throw new CliException($"--plateau: {last} is not between 1 and the pilot's {pilot.Trace.Count} rounds");
                    double level = pilot.Trace.TakeLast(last).Average(p => p.Accuracy);
                    goal = Math.Floor(level * pr.GetValue(share) * 1000) / 1000;
                    figures["target_from"] = $"pilot: synchronous, seed 0, {pilot.Trace.Count} rounds; {pr.GetValue(share)} of its mean validation accuracy over its last {last} rounds ({level:0.####}), rounded down to 0.001";
                    figures["pilot.plateau"] = Math.Round(level, 4);
                    figures["pilot.validation_accuracy"] = new JsonArray(pilot.Trace.Select(p => (JsonNode)Math.Round(p.Accuracy, 4)).ToArray());
                    figures["pilot.final_test_accuracy"] = Math.Round(pilot.FinalTestAccuracy, 4);
                }
                BenchFigures.Print(figures, "target_validation_accuracy", goal, 4);

                var seconds = chosen.ToDictionary(b => b, _ => new List<double>());
                var finalValidation = chosen.ToDictionary(b => b, _ => new List<double>());
                var finalTest = chosen.ToDictionary(b => b, _ => new List<double>());
                for (int seed = 1; seed <= seedCount; seed++)
                {
                    // Rotate the order with the seed so that no executor always runs first (or right after a given one).
                    var order = chosen.Skip((seed - 1) % chosen.Length).Concat(chosen.Take((seed - 1) % chosen.Length)).ToArray();
                    figures[$"seed{seed}.order"] = string.Join(',', order);
                    foreach (var b in order)
                    {
                        var run = await TimedRunAsync(PlanFor(b, seed), dataDir, delays, Path.Combine(folder, $"{b}-{seed}"), ct);
                        if (pr.GetValue(trace))
                            foreach (var p in run.Trace) Console.WriteLine($"trace.{b}.seed{seed} {p.Version} {p.Seconds:0.###} {p.Accuracy:0.####}");
                        seconds[b].Add(run.SecondsTo(goal));
                        finalValidation[b].Add(run.Trace[^1].Accuracy);
                        finalTest[b].Add(run.FinalTestAccuracy);
                        figures[$"{b}.seed{seed}.best_so_far"] = new JsonArray(BestSoFar(run.Trace).Select(v => (JsonNode)v).ToArray());
                        figures[$"{b}.seed{seed}.seconds"] = new JsonArray(run.Trace.Select(p => (JsonNode)Math.Round(p.Seconds, 3)).ToArray());
                    }
                }
                foreach (var b in chosen)
                {
                    Summarise(figures, $"{b}.seconds_to_target", seconds[b]);
                    Summarise(figures, $"{b}.final_validation_accuracy", finalValidation[b]);
                    Summarise(figures, $"{b}.final_test_accuracy", finalTest[b]);
                }
                if (seconds.TryGetValue("fedbuff", out var buffered))
                {
                    foreach (var b in chosen.Where(b => b != "fedbuff"))
                        Summarise(figures, $"fedbuff.speedup_over_{b}", seconds[b].Zip(buffered, (a, f) => a / f).ToList());
                }
            }
            finally
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            }
            if (pr.GetValue(json) is { } file)
            {
                await BenchFigures.SaveAsync(figures, file, ct);
            }
            return 0;
        });
        return command;
    }

    private sealed record Point(int Version, double Seconds, double Accuracy);

    private sealed record Timed(IReadOnlyList<Point> Trace, double FinalTestAccuracy)
    {
        /// <summary>Seconds until the first evaluation at or above <paramref name="target"/>; infinity when never.</summary>
        public double SecondsTo(double target) => Trace.FirstOrDefault(p => p.Accuracy >= target - 1e-9)?.Seconds ?? double.PositiveInfinity;
    }

    private static async Task<Timed> TimedRunAsync(Plan plan, string dataDir, IReadOnlyDictionary<string, TimeSpan> delays, string folder, CancellationToken ct)
    {
        var sites = Hospitals.ToDictionary(h => h, h => CreateApps(plan, dataDir, h));
        var apps = sites.ToDictionary(kv => kv.Key, kv => (IClientApp)kv.Value.Validated);
        var trace = new List<Point>();
        var clock = new Stopwatch();
        ParameterSet? latest = null;
        // Central evaluation: the mean validation accuracy over the hospitals, with the clock paused so that it costs no run time.
        CentralEvaluator evaluate = async (round, global, token) =>
        {
            clock.Stop();
            double mean = await MeanAccuracyAsync(sites.Values.Select(s => s.Validated), global, token);
            lock (trace)
            {
                trace.Add(new Point(round, clock.Elapsed.TotalSeconds, mean));
                latest = global;
            }
            clock.Start();
            return new EvaluateResult(0, 0, new Metrics([KeyValuePair.Create("mean_validation_accuracy", Scalar.Of(mean))]));
        };
        clock.Start();
        var outcome = await InProcessRun.RunAsync(plan, new InProcessNodePool(plan.App.Name, apps, delays), new StrategyServices(CentralEvaluator: evaluate), folder, ct);
        if (outcome.Run.Error is { } error) throw new CliException($"benchmark run failed: {error}");
        // Test accuracy once, on the final model: it plays no part in the race.
        double test = await MeanAccuracyAsync(sites.Values.Select(s => s.Tested), latest!, ct);
        return new Timed(trace, test);
    }

    private static async Task<double> MeanAccuracyAsync(IEnumerable<TabularApp> judges, ParameterSet model, CancellationToken ct)
    {
        double sum = 0;
        int count = 0;
        foreach (var j in judges)
        {
            sum += (await j.EvaluateAsync(model, Config.Empty, ct)).Metrics["accuracy"].AsDouble();
            count++;
        }
        return sum / count;
    }

    /// <summary>
    /// A hospital's app twice over the same training rows: its training split less a stratified, seeded
    /// validation split, evaluating on that validation split (the app the node runs) or on the test split.
    /// Standardisation statistics come from the whole training split, validation rows included.
    /// </summary>
    private static (TabularApp Validated, TabularApp Tested) CreateApps(Plan plan, string dataDir, string hospital)
    {
        var settings = TabularSettings.FromConfig(plan.App.Settings);
        var data = TabularPreprocessor.LoadFile(Path.Combine(dataDir, $"processed.{hospital}.data"), settings.Read, settings.Preprocess);
        var classes = new int[data.Train.Count];
        for (int i = 0; i < classes.Length; i++) classes[i] = data.Train.Labels[i] > 0.5f ? 1 : 0;
        // The seed the app itself uses for a validation split (split_seed + 1), so it draws the same rows.
        var split = TrainTestSplit.Create(classes, 1 - ValidationFraction, settings.Preprocess.SplitSeed + 1, settings.Preprocess.Stratify);
        var train = data.Train.Select(split.Train);
        var validation = data.Train.Select(split.Test);
        return (new TabularApp(settings, new TabularSplit(train, validation, split.Stratified), hospital),
            new TabularApp(settings, new TabularSplit(train, data.Test, data.Stratified), hospital));
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value, 4);

    // Median and range over seeds; a run that never reached the target counts as infinitely slow (recorded as null).
    private static void Summarise(JsonObject figures, string name, List<double> values)
    {
        var sorted = values.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        Print(figures, $"{name}.median", median);
        Print(figures, $"{name}.min", sorted[0]);
        Print(figures, $"{name}.max", sorted[^1]);
        BenchFigures.PrintValues(figures, $"{name}.per_seed", values);
    }

    private static IEnumerable<double> BestSoFar(IReadOnlyList<Point> trace)
    {
        double best = 0;
        foreach (var p in trace)
        {
            best = Math.Max(best, p.Accuracy);
            yield return Math.Round(best, 4);
        }
    }
}
