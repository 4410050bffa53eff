using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Apps.Tabular;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Server.Fleet;
using Cohort.Server.Runs;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench fedbuff</c>: the heart-disease plan over the four hospitals with one site ten times
/// slower than the others, run through the server's executor twice: synchronous FedAvg rounds, then
/// FedBuff. Both are timed to the synchronous run's final mean test accuracy.
/// </summary>
public static class FedBuffBench
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
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("fedbuff", "Synchronous FedAvg against FedBuff with one node N times slower: wall time to the synchronous run's accuracy")
        {
            planPath, slow, fastMs, factor, buffer, versions, lr, rounds, hidden, trace, json,
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
            var figures = BenchFigures.Begin(new JsonObject { ["slow"] = slowNode, ["fast_ms"] = fast.TotalMilliseconds, ["factor"] = pr.GetValue(factor) });
            string folder = Path.Combine(Path.GetTempPath(), $"cohort-bench-fedbuff-{Environment.ProcessId}");

            try
            {
                var sync = await TimedRunAsync(plan, dataDir, delays, Path.Combine(folder, "sync"), ct);
                double target = sync.Trace[^1].Accuracy;
                var asyncPlan = plan with
                {
                    Rounds = pr.GetValue(versions),
                    Asynchronous = new AsynchronousSpec { BufferSize = pr.GetValue(buffer), Staleness = new Staleness { Type = "polynomial", A = 0.5 } },
                };
                var buffered = await TimedRunAsync(asyncPlan, dataDir, delays, Path.Combine(folder, "fedbuff"), ct);

                if (pr.GetValue(trace))
                {
                    foreach (var p in sync.Trace) Console.WriteLine($"trace.sync {p.Version} {p.Seconds:0.###} {p.Accuracy:0.####}");
                    foreach (var p in buffered.Trace) Console.WriteLine($"trace.fedbuff {p.Version} {p.Seconds:0.###} {p.Accuracy:0.####}");
                }
                Print(figures, "fedbuff.target_accuracy", target);
                Print(figures, "sync.rounds", sync.Trace.Count);
                Print(figures, "sync.final_accuracy", target);
                Print(figures, "sync.seconds_to_target", sync.SecondsTo(target));
                Print(figures, "sync.seconds_total", sync.Trace[^1].Seconds);
                Print(figures, "fedbuff.versions", buffered.Trace.Count);
                Print(figures, "fedbuff.final_accuracy", buffered.Trace[^1].Accuracy);
                Print(figures, "fedbuff.best_accuracy", buffered.Trace.Max(t => t.Accuracy));
                Print(figures, "fedbuff.seconds_to_target", buffered.SecondsTo(target));
                Print(figures, "fedbuff.seconds_total", buffered.Trace[^1].Seconds);
                Print(figures, "fedbuff.speedup_to_target", sync.SecondsTo(target) / buffered.SecondsTo(target));
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
}
