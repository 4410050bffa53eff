using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Clients;
using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench resume</c>: what crash-resume costs with a large model, through the server's executor,
/// SQLite store and model store on disk: the size of a round's checkpoint (model and FedAdam's state) and
/// the time to write it; the time to keep one node's fit result; and the time from a restart to the end of
/// the interrupted round, with one node's result missing and with every result kept, beside an
/// uninterrupted round of the same run.
/// </summary>
internal static class ResumeBench
{
    private const string App = "nudge";

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var parameters = new Option<int>("--parameters") { Description = "Model size (float32 values)", DefaultValueFactory = _ => 10_000_000 };
        var nodes = new Option<int>("--nodes") { Description = "In-process nodes", DefaultValueFactory = _ => 4 };
        var repeats = new Option<int>("--repeats") { Description = "Repeats (the median and range are reported)", DefaultValueFactory = _ => 3 };
        var durability = new Option<string>("--durability") { Description = "power (fsync every file, the server's default) or process (no fsync)", DefaultValueFactory = _ => "power" };
        var folderOption = new Option<string?>("--folder") { Description = "Where to write (default: a temporary folder; the disk is what is measured)" };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("resume", "Checkpoint size and write time per round, and time from a restart to the end of the interrupted round, for a large model")
        {
            parameters, nodes, repeats, durability, folderOption, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int values = pr.GetValue(parameters), nodeCount = pr.GetValue(nodes), repeatCount = pr.GetValue(repeats);
            string mode = pr.GetValue(durability)!;
            if (values < 1 || nodeCount < 2 || repeatCount < 1) throw new CliException("bench resume: --parameters must be ≥ 1, --nodes ≥ 2, --repeats ≥ 1");
            if (mode is not ("power" or "process")) throw new CliException($"bench resume: --durability '{mode}': use power or process");
            bool flush = mode == "power";
            string folder = pr.GetValue(folderOption) ?? Path.Combine(Path.GetTempPath(), $"cohort-bench-resume-{Guid.NewGuid():N}"[..28]);
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["parameters"] = values,
                ["nodes"] = nodeCount,
                ["repeats"] = repeatCount,
                ["durability"] = mode,
                ["strategy"] = "fedadam",
            });
            var checkpointSeconds = new List<double>();
            var keepSeconds = new List<double>();
            var oneMissing = new List<double>();
            var allKept = new List<double>();
            var uninterrupted = new List<double>();
            long modelBytes = 0, stateBytes = 0, keptBytes = 0;
            try
            {
                for (int r = 0; r < repeatCount; r++)
                {
                    string dir = Path.Combine(folder, $"repeat-{r}");
                    Directory.CreateDirectory(dir);
                    var models = new ModelStore(Path.Combine(dir, "models"), flush);
                    var store = new SqliteStateStore(Path.Combine(dir, "state.db"), syncRounds: flush);
                    await store.InitializeAsync(ct);

                    // Two rounds, then round 3 interrupted with every node's result kept but one's.
                    var (run, plan) = await StartAsync(store, nodeCount, ct);
                    using (var stop = new CancellationTokenSource())
                    {
                        var pool = new Interrupting(Pool(values, nodeCount), $"n{nodeCount}", 3, store, stop);
                        try
                        {
                            await Executor(pool, store, models).ExecuteAsync(run, plan, 1, CancellationTokenSource.CreateLinkedTokenSource(ct, stop.Token).Token);
                        }
                        catch (OperationCanceledException) when (stop.IsCancellationRequested)
                        {
                        }
                    }
                    var round2 = (await store.ListRoundsAsync(run.Id, ct)).Single(x => x.Round == 2);
                    uninterrupted.Add((round2.FinishedAt!.Value - round2.StartedAt).TotalSeconds);
                    modelBytes = new FileInfo(models.PathOf(run.Id, 2)).Length;
                    stateBytes = new FileInfo(models.CheckpointPathOf(run.Id, 2)).Length;

                    // Copies for the second restart below (the first one completes round 3 and discards its kept results).
                    var model = (await models.LoadAsync(run.Id, 2, ct))!;
                    var state = (await models.LoadCheckpointAsync(run.Id, 2, ct))!;
                    var kept = (await models.LoadRoundResultsAsync(run.Id, 3, ct)).Results;
                    // The round's kept results share one file, a record each.
                    keptBytes = new FileInfo(models.RoundResultsPathOf(run.Id, 3)).Length / Math.Max(kept.Count, 1);

                    // The restart: a new executor (and strategy) on the same stores finishes round 3.
                    var clock = Stopwatch.StartNew();
                    await Executor(Pool(values, nodeCount), store, models).ExecuteAsync((await store.GetRunAsync(run.Id, ct))!, plan with { Rounds = 3 }, 3, ct);
                    oneMissing.Add(clock.Elapsed.TotalSeconds);

                    // The same with every result kept (a crash after the last arrived): no node is asked.
                    var (second, _) = await StartAsync(store, nodeCount, ct);
                    await models.SaveAsync(second.Id, 2, model, ct);
                    await models.SaveCheckpointAsync(second.Id, 2, state, ct);
                    for (int n = 1; n <= nodeCount; n++)
                    {
                        var result = kept.FirstOrDefault(k => k.Node == $"n{n}") ?? kept[0] with { Node = $"n{n}" };
                        await models.SaveRoundResultAsync(second.Id, 3, $"n{n}", result, ct);
                    }
                    await store.SaveRunAsync((await store.GetRunAsync(second.Id, ct))! with { RoundsDone = 2 }, ct);
                    clock.Restart();
                    await Executor(new Refusing(nodeCount), store, models).ExecuteAsync((await store.GetRunAsync(second.Id, ct))!, plan with { Rounds = 3 }, 3, ct);
                    allKept.Add(clock.Elapsed.TotalSeconds);

                    // Writing a round's checkpoint (model, then strategy state), and keeping one result.
                    clock.Restart();
                    await models.SaveAsync("checkpoint-timing", 1, model, ct);
                    await models.SaveCheckpointAsync("checkpoint-timing", 1, state, ct);
                    // On disk, as a round's are before the run's next save.
                    await models.FlushAsync("checkpoint-timing");
                    checkpointSeconds.Add(clock.Elapsed.TotalSeconds);
                    clock.Restart();
                    await models.SaveRoundResultAsync("checkpoint-timing", 1, "n1", kept[0], ct);
                    keepSeconds.Add(clock.Elapsed.TotalSeconds);
                    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                    Directory.Delete(dir, recursive: true);
                }
            }
            finally
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                if (pr.GetValue(folderOption) is null && Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            }
            BenchFigures.Print(figures, "resume.checkpoint.model_bytes", modelBytes, 0);
            BenchFigures.Print(figures, "resume.checkpoint.state_bytes", stateBytes, 0);
            BenchFigures.Print(figures, "resume.checkpoint.bytes_per_round", modelBytes + stateBytes, 0);
            BenchFigures.Print(figures, "resume.kept_result.bytes", keptBytes, 0);
            Summarise(figures, "resume.checkpoint.seconds_per_round", checkpointSeconds);
            Summarise(figures, "resume.kept_result.seconds", keepSeconds);
            Summarise(figures, "resume.round_seconds_uninterrupted", uninterrupted);
            Summarise(figures, "resume.restart_to_round_done_seconds.one_result_missing", oneMissing);
            Summarise(figures, "resume.restart_to_round_done_seconds.all_results_kept", allKept);
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    private static void Summarise(JsonObject figures, string name, List<double> values)
    {
        var sorted = values.Order().ToArray();
        BenchFigures.Print(figures, name + ".median", sorted[sorted.Length / 2]);
        BenchFigures.Print(figures, name + ".min", sorted[0]);
        BenchFigures.Print(figures, name + ".max", sorted[^1]);
        BenchFigures.PrintValues(figures, name + ".values", values);
    }

    private static async Task<(RunRecord Run, Plan Plan)> StartAsync(IStateStore store, int nodes, CancellationToken ct)
    {
        var plan = PlanParser.Parse($$"""
            name: resume-bench
            app: { name: {{App}} }
            strategy: { name: fedadam, params: { server_learning_rate: 0.01 } }
            rounds: 4
            selection: { min_available: {{nodes}}, min_fit: {{nodes}}, fraction_fit: 1.0, fraction_evaluate: 0.0 }
            round_timeout: 600s
            wait_for_nodes: 10s
            seed: 1
            """, "resume-bench.yaml", StrategyRegistry.CreateDefault());
        var run = new RunRecord($"bench-{Guid.NewGuid():N}"[..18], plan.Name, plan.Name, plan.App.Name, plan.Strategy.Name,
            RunStatus.Running, plan.Rounds, 0, plan.SourceText, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);
        await store.SaveRunAsync(run, ct);
        return (run, plan);
    }

    private static RunExecutor Executor(INodePool pool, IStateStore store, IModelStore models) =>
        new(pool, store, models, StrategyRegistry.CreateDefault(), StrategyServices.None, NullLogger<RunExecutor>.Instance);

    private static InProcessNodePool Pool(int values, int nodes) => new(App,
        Enumerable.Range(1, nodes).ToDictionary(i => $"n{i}", i => (IClientApp)new NudgeApp(values, 0.001f * i)),
        new InProcessPoolOptions { Delivery = DeliveryOrder.Arrival });

    /// <summary>Returns the model moved by a node-specific step: a fit that costs one pass over the values.</summary>
    private sealed class NudgeApp(int values, float step) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [values])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            var next = parameters.Clone();
            var w = next["w"].AsFloat32();
            for (int i = 0; i < w.Length; i++) w[i] += step;
            return Task.FromResult(new FitResult(next, 100, Metrics.Empty));
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0, 1, Metrics.Empty));
    }

    /// <summary>Holds one node's fit of one round unanswered and stops the run once the other nodes' results of that round are recorded (a crash with those kept).</summary>
    private sealed class Interrupting(INodePool inner, string node, int round, IStateStore store, CancellationTokenSource stop) : INodePool
    {
        private PendingTask? _held;

        public IReadOnlyList<string> Available(string app) => inner.Available(app);

        public Task<TaskOutcome> Submit(PendingTask task)
        {
            if (task.Node != node || task.Round != round || task.Kind != TaskKind.Fit) return inner.Submit(task);
            _held = task;
            _ = Task.Run(async () =>
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
                while (DateTime.UtcNow < deadline && (await store.ListNodeResultsAsync(task.RunId, CancellationToken.None)).Count(r => r.Round == round && r.Phase == "fit") < Available(task.App).Count - 1)
                    await Task.Delay(20);
                stop.Cancel();
            });
            return task.Completion.Task;
        }

        public void Fail(PendingTask task, FailureKind kind, string reason)
        {
            if (ReferenceEquals(task, _held)) task.Completion.TrySetResult(TaskOutcome.Failed(kind, reason));
            else inner.Fail(task, kind, reason);
        }
    }

    /// <summary>A pool whose nodes are there but must not be asked: every result of the round is kept.</summary>
    private sealed class Refusing(int nodes) : INodePool
    {
        private readonly string[] _nodes = Enumerable.Range(1, nodes).Select(i => $"n{i}").ToArray();

        public IReadOnlyList<string> Available(string app) => _nodes;

        public Task<TaskOutcome> Submit(PendingTask task) => throw new InvalidOperationException($"bench resume: node {task.Node} was asked although its result was kept");

        public void Fail(PendingTask task, FailureKind kind, string reason)
        {
        }
    }
}
