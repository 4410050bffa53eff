using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Apps.Tabular;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench fedbuff</c>: the heart-disease plan over the four hospitals with one site ten times
/// slower than the others, run through the server's executor twice: synchronous FedAvg rounds, then
/// FedBuff. Both are timed to the synchronous run's final mean test accuracy.
/// </summary>
internal static class FedBuffBench
{
    private static readonly string[] Hospitals = ["cleveland", "hungarian", "switzerland", "va"];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var planPath = new Option<string>("--plan") { Description = "The heart-disease plan", DefaultValueFactory = _ => "examples/heart-disease/plan.yaml" };
        var slow = new Option<string>("--slow") { Description = "The slow hospital", DefaultValueFactory = _ => "cleveland" };
        var fastMs = new Option<int>("--fast-ms") { Description = "Extra time per fit at the other hospitals (ms)", DefaultValueFactory = _ => 50 };
        var factor = new Option<int>("--factor") { Description = "How many times slower the slow hospital is", DefaultValueFactory = _ => 10 };
        var buffer = new Option<int>("--buffer") { Description = "FedBuff's K (arrivals per update)", DefaultValueFactory = _ => 3 };
        var versions = new Option<int>("--versions") { Description = "FedBuff model versions to run", DefaultValueFactory = _ => 60 };
        var lr = new Option<double?>("--learning-rate") { Description = "Local learning rate (default: the plan's)" };
        var rounds = new Option<int>("--rounds") { Description = "Synchronous rounds", DefaultValueFactory = _ => 30 };
        var hidden = new Option<string>("--hidden") { Description = "Hidden layer sizes of the MLP trained (comma-separated); 'none' keeps the plan's logistic regression", DefaultValueFactory = _ => "32" };
        var trace = new Option<bool>("--trace") { Description = "Print every evaluation (version, seconds, accuracy)" };
        var seeds = new Option<int>("--seeds") { Description = "Seeds (1, 2, …): initial model and batch orders; the two executors alternate which runs first", DefaultValueFactory = _ => 3 };
        var target = new Option<double>("--target") { Description = "Mean test accuracy both runs race to, fixed before running", DefaultValueFactory = _ => 0.74 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("fedbuff", "Synchronous FedAvg against FedBuff with one node N times slower: wall time to a fixed accuracy, over seeds")
        {
            planPath, slow, fastMs, factor, buffer, versions, lr, rounds, hidden, seeds, target, trace, json,
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
            double goal = pr.GetValue(target);
            var figures = BenchFigures.Begin(new JsonObject { ["slow"] = slowNode, ["fast_ms"] = fast.TotalMilliseconds, ["factor"] = pr.GetValue(factor), ["seeds"] = seedCount, ["target_accuracy"] = goal });
            string folder = Path.Combine(Path.GetTempPath(), $"cohort-bench-fedbuff-{Environment.ProcessId}");

            try
            {
                var syncSeconds = new List<double>();
                var bufferedSeconds = new List<double>();
                var syncFinal = new List<double>();
                var bufferedFinal = new List<double>();
                for (int seed = 1; seed <= seedCount; seed++)
                {
                    var seeded = plan with { Seed = seed };
                    var asyncPlan = seeded with
                    {
                        Rounds = pr.GetValue(versions),
                        Asynchronous = new AsynchronousSpec { BufferSize = pr.GetValue(buffer), Staleness = new Staleness { Type = "polynomial", A = 0.5 } },
                    };
                    // Alternate the order so that neither executor always pays the cold start (JIT, thread pool growth).
                    Timed sync, buffered;
                    if (seed % 2 == 1)
                    {
                        sync = await TimedRunAsync(seeded, dataDir, delays, Path.Combine(folder, $"sync-{seed}"), ct);
                        buffered = await TimedRunAsync(asyncPlan, dataDir, delays, Path.Combine(folder, $"fedbuff-{seed}"), ct);
                    }
                    else
                    {
                        buffered = await TimedRunAsync(asyncPlan, dataDir, delays, Path.Combine(folder, $"fedbuff-{seed}"), ct);
                        sync = await TimedRunAsync(seeded, dataDir, delays, Path.Combine(folder, $"sync-{seed}"), ct);
                    }
                    if (pr.GetValue(trace))
                    {
                        foreach (var p in sync.Trace) Console.WriteLine($"trace.sync.seed{seed} {p.Version} {p.Seconds:0.###} {p.Accuracy:0.####}");
                        foreach (var p in buffered.Trace) Console.WriteLine($"trace.fedbuff.seed{seed} {p.Version} {p.Seconds:0.###} {p.Accuracy:0.####}");
                    }
                    syncSeconds.Add(sync.SecondsTo(goal));
                    bufferedSeconds.Add(buffered.SecondsTo(goal));
                    syncFinal.Add(sync.Trace[^1].Accuracy);
                    bufferedFinal.Add(buffered.Trace[^1].Accuracy);
                    figures[$"sync.seed{seed}.best_so_far"] = new JsonArray(BestSoFar(sync.Trace).Select(v => (JsonNode)v).ToArray());
                    figures[$"fedbuff.seed{seed}.best_so_far"] = new JsonArray(BestSoFar(buffered.Trace).Select(v => (JsonNode)v).ToArray());
                    figures[$"sync.seed{seed}.seconds"] = new JsonArray(sync.Trace.Select(p => (JsonNode)Math.Round(p.Seconds, 3)).ToArray());
                    figures[$"fedbuff.seed{seed}.seconds"] = new JsonArray(buffered.Trace.Select(p => (JsonNode)Math.Round(p.Seconds, 3)).ToArray());
                }
                Summarise(figures, "sync.seconds_to_target", syncSeconds);
                Summarise(figures, "fedbuff.seconds_to_target", bufferedSeconds);
                Summarise(figures, "fedbuff.speedup_to_target", syncSeconds.Zip(bufferedSeconds, (a, b) => a / b).ToList());
                Summarise(figures, "sync.final_accuracy", syncFinal);
                Summarise(figures, "fedbuff.final_accuracy", bufferedFinal);
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

    private sealed record Timed(IReadOnlyList<Point> Trace)
    {
        /// <summary>Seconds until the first evaluation at or above <paramref name="target"/>; infinity when never.</summary>
        public double SecondsTo(double target) => Trace.FirstOrDefault(p => p.Accuracy >= target - 1e-9)?.Seconds ?? double.PositiveInfinity;
    }

    private static async Task<Timed> TimedRunAsync(Plan plan, string dataDir, IReadOnlyDictionary<string, TimeSpan> delays, string folder, CancellationToken ct)
    {
        var apps = Hospitals.ToDictionary(h => h, h => (IClientApp)CreateApp(plan, dataDir, h));
        var judges = Hospitals.Select(h => CreateApp(plan, dataDir, h)).ToArray();
        var trace = new List<Point>();
        var clock = new Stopwatch();
        // Central evaluation: the mean test accuracy over the hospitals, with the clock paused so that it costs neither run time.
        CentralEvaluator evaluate = async (round, global, token) =>
        {
            clock.Stop();
            double sum = 0;
            foreach (var j in judges) sum += (await j.EvaluateAsync(global, Config.Empty, token)).Metrics["accuracy"].AsDouble();
            lock (trace) trace.Add(new Point(round, clock.Elapsed.TotalSeconds, sum / judges.Length));
            clock.Start();
            return new EvaluateResult(0, 0, new Metrics([KeyValuePair.Create("mean_accuracy", Scalar.Of(sum / judges.Length))]));
        };
        clock.Start();
        var outcome = await InProcessRun.RunAsync(plan, new InProcessNodePool(plan.App.Name, apps, delays), new StrategyServices(CentralEvaluator: evaluate), folder, ct);
        if (outcome.Run.Error is { } error) throw new CliException($"benchmark run failed: {error}");
        return new Timed(trace);
    }

    private static TabularApp CreateApp(Plan plan, string dataDir, string hospital) =>
        new TabularAppFactory().CreateTabular(new ClientAppContext("bench-fedbuff", hospital, plan.App.Settings,
            new Config([KeyValuePair.Create("data", Scalar.Of(Path.Combine(dataDir, $"processed.{hospital}.data")))])));

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
