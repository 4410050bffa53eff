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
using Tensor = Cohort.Parameters.Tensor;

namespace Cohort.Engine.Tests;

/// <summary>
/// Fit results that arrived in a round interrupted by a crash are kept on disk: the resumed round asks only
/// the nodes whose results are missing, and ends with the uninterrupted run's model bit for bit.
/// </summary>
public sealed class KeptResultsTests : IDisposable
{
    private const int Rounds = 5;
    private const int CrashInRound = 3;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cohort-kept-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private static Plan Parse(string strategy) => PlanParser.Parse($$"""
        name: kept
        app: { name: step }
        strategy: {{strategy}}
        rounds: {{Rounds}}
        selection: { min_available: 3, min_fit: 3, fraction_fit: 1.0, fraction_evaluate: 0.0 }
        round_timeout: 30s
        wait_for_nodes: 5s
        seed: 5
        """, "kept.yaml", StrategyRegistry.CreateDefault());

    private static InProcessNodePool Pool() => new("step",
        new Dictionary<string, IClientApp> { ["n1"] = new StepApp(0.3f), ["n2"] = new StepApp(-0.2f), ["n3"] = new StepApp(0.7f) },
        new InProcessPoolOptions { Delivery = DeliveryOrder.Arrival });

    private static RunExecutor Executor(INodePool pool, IStateStore store, IModelStore models) =>
        new(pool, store, models, StrategyRegistry.CreateDefault(), StrategyServices.None, NullLogger<RunExecutor>.Instance);

    private static async Task<RunRecord> NewRunAsync(Plan plan, IStateStore store)
    {
        var run = new RunRecord($"run-{Guid.NewGuid():N}"[..16], plan.Name, plan.Name, plan.App.Name, plan.Strategy.Name,
            RunStatus.Running, plan.Rounds, 0, plan.SourceText, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);
        await store.SaveRunAsync(run, CancellationToken.None);
        return run;
    }

    private static async Task<byte[]> FinalModelAsync(IModelStore models, string runId)
    {
        using var buffer = new MemoryStream();
        await ParameterSetFile.WriteAsync(buffer, (await models.LoadAsync(runId, Rounds, CancellationToken.None))!);
        return buffer.ToArray();
    }

    [Theory]
    [InlineData("{ name: fedavg }")]
    [InlineData("{ name: fedadam, params: { server_learning_rate: 0.05 } }")]
    [InlineData("{ name: scaffold }")]
    public async Task A_resumed_round_asks_only_the_nodes_whose_results_were_not_kept_and_ends_identical(string strategy)
    {
        var plan = Parse(strategy);
        var reference = new InMemoryStateStore();
        var referenceModels = new InMemoryModelStore();
        var uninterrupted = await NewRunAsync(plan, reference);
        await Executor(Pool(), reference, referenceModels).ExecuteAsync(uninterrupted, plan, 1, CancellationToken.None);
        byte[] expected = await FinalModelAsync(referenceModels, uninterrupted.Id);

        // Crash: n3's fit of the round never answers; once n1's and n2's results are in, the run stops.
        var store = new InMemoryStateStore();
        var models = new ModelStore(_folder);
        var run = await NewRunAsync(plan, store);
        using var stop = new CancellationTokenSource();
        var holding = new HoldingPool(Pool(), "n3", CrashInRound, store, stop);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Executor(holding, store, models).ExecuteAsync(run, plan, 1, stop.Token));
        run = (await store.GetRunAsync(run.Id, CancellationToken.None))!;
        Assert.Equal(CrashInRound - 1, run.RoundsDone);
        var (kept, problems) = await models.LoadRoundResultsAsync(run.Id, CrashInRound, CancellationToken.None);
        Assert.Equal(["n1", "n2"], kept.Select(k => k.Node).Order(StringComparer.Ordinal));
        Assert.Empty(problems);

        var counting = new CountingPool(Pool());
        await Executor(counting, store, models).ExecuteAsync(run, plan, run.RoundsDone + 1, CancellationToken.None);

        Assert.Equal(expected, await FinalModelAsync(models, run.Id));
        Assert.Equal(["n3"], counting.FitNodes(CrashInRound));
        Assert.Equal(["n1", "n2", "n3"], counting.FitNodes(CrashInRound + 1));
        var keptEvent = Assert.Single(await store.ListEventsAsync(run.Id, CancellationToken.None), e => e.Kind == "round.results_kept");
        Assert.Contains($"round {CrashInRound}: 2 fit results received before the server restarted are kept (n1, n2); waiting for 1 (n3)", keptEvent.Message);
        // The resumed round records all three nodes' results, and nothing is left kept once the run is done.
        var fits = (await store.ListNodeResultsAsync(run.Id, CancellationToken.None)).Where(r => r.Round == CrashInRound && r.Phase == "fit").ToArray();
        Assert.Equal(["n1", "n2", "n3"], fits.Select(r => r.Node).Order(StringComparer.Ordinal));
        Assert.All(fits, r => Assert.True(r.Ok));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_folder, run.Id), "round-*.results"));
    }

    [Fact]
    public async Task A_run_restarted_in_its_first_round_reuses_its_initial_model_and_kept_results()
    {
        var plan = Parse("{ name: fedadam, params: { server_learning_rate: 0.05 } }");
        var reference = new InMemoryStateStore();
        var referenceModels = new InMemoryModelStore();
        var uninterrupted = await NewRunAsync(plan, reference);
        await Executor(Pool(), reference, referenceModels).ExecuteAsync(uninterrupted, plan, 1, CancellationToken.None);

        var store = new InMemoryStateStore();
        var models = new ModelStore(_folder);
        var run = await NewRunAsync(plan, store);
        using var stop = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Executor(new HoldingPool(Pool(), "n3", 1, store, stop), store, models).ExecuteAsync(run, plan, 1, stop.Token));

        var counting = new CountingPool(Pool());
        await Executor(counting, store, models).ExecuteAsync((await store.GetRunAsync(run.Id, CancellationToken.None))!, plan, 1, CancellationToken.None);

        Assert.Equal(await FinalModelAsync(referenceModels, uninterrupted.Id), await FinalModelAsync(models, run.Id));
        Assert.Equal(["n3"], counting.FitNodes(1));
        Assert.Contains("resumed at round 1 from the saved initial model", Assert.Single(await store.ListEventsAsync(run.Id, CancellationToken.None), e => e.Kind == "run.resumed").Message);
        Assert.Equal(3, (await store.ListNodeResultsAsync(run.Id, CancellationToken.None)).Count(r => r.Round == 1 && r.Phase == "fit"));
    }

    [Fact]
    public async Task A_kept_result_whose_file_is_corrupt_is_noted_and_its_node_asked_again()
    {
        var plan = Parse("{ name: fedavg }");
        var store = new InMemoryStateStore();
        var models = new ModelStore(_folder);
        var run = await NewRunAsync(plan, store);
        using var stop = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Executor(new HoldingPool(Pool(), "n3", CrashInRound, store, stop), store, models).ExecuteAsync(run, plan, 1, stop.Token));
        // One record per kept result: key length (int32), result length (int64), key, result. n1's result gets a flipped bit.
        string file = models.RoundResultsPathOf(run.Id, CrashInRound);
        byte[] bytes = await File.ReadAllBytesAsync(file);
        for (int at = 0; ;)
        {
            int keyLength = BitConverter.ToInt32(bytes, at);
            long length = BitConverter.ToInt64(bytes, at + 4);
            if (System.Text.Encoding.UTF8.GetString(bytes, at + 12, keyLength) == "n1")
            {
                bytes[at + 12 + keyLength + (int)length / 3] ^= 0x10;
                break;
            }
            at += 12 + keyLength + (int)length;
        }
        await File.WriteAllBytesAsync(file, bytes);

        var counting = new CountingPool(Pool());
        run = (await store.GetRunAsync(run.Id, CancellationToken.None))!;
        await Executor(counting, store, models).ExecuteAsync(run, plan, run.RoundsDone + 1, CancellationToken.None);

        Assert.Equal(["n1", "n3"], counting.FitNodes(CrashInRound));
        var unreadable = Assert.Single(await store.ListEventsAsync(run.Id, CancellationToken.None), e => e.Kind == "round.kept_result_unreadable");
        Assert.Contains("the result kept for n1", unreadable.Message);
    }

    /// <summary>Holds one node's fit of one round unanswered and stops the run once the other nodes' results of that round are recorded.</summary>
    private sealed class HoldingPool(INodePool inner, string node, int round, IStateStore store, CancellationTokenSource stop) : INodePool
    {
        private PendingTask? _held;

        public IReadOnlyList<string> Available(string app) => inner.Available(app);

        public Task<TaskOutcome> Submit(PendingTask task)
        {
            if (task.Node != node || task.Round != round || task.Kind != TaskKind.Fit) return inner.Submit(task);
            _held = task;
            _ = Task.Run(async () =>
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (DateTime.UtcNow < deadline)
                {
                    var results = await store.ListNodeResultsAsync(task.RunId, CancellationToken.None);
                    if (results.Count(r => r.Round == round && r.Phase == "fit" && r.Ok) >= 2) break;
                    await Task.Delay(10);
                }
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

    /// <summary>Passes tasks on and remembers which nodes were asked to fit in each round.</summary>
    private sealed class CountingPool(INodePool inner) : INodePool
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<(int Round, string Node)> _fits = new();

        public string[] FitNodes(int round) => [.. _fits.Where(f => f.Round == round).Select(f => f.Node).Order(StringComparer.Ordinal)];

        public IReadOnlyList<string> Available(string app) => inner.Available(app);

        public Task<TaskOutcome> Submit(PendingTask task)
        {
            if (task.Kind == TaskKind.Fit) _fits.Enqueue((task.Round, task.Node));
            return inner.Submit(task);
        }

        public void Fail(PendingTask task, FailureKind kind, string reason) => inner.Fail(task, kind, reason);
    }

    /// <summary>Moves every weight a node-specific step, so each node's update differs; answers SCAFFOLD with a control-variate delta too.</summary>
    private sealed class StepApp(float step) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [7])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            bool scaffold = ScaffoldTensors.IsScaffoldTask(parameters);
            var (model, _) = scaffold ? ScaffoldTensors.Split(parameters) : (parameters, new ParameterSet([]));
            var next = model.Clone();
            var w = next["w"].AsFloat32();
            for (int i = 0; i < w.Length; i++) w[i] = w[i] * 0.9f + step * (i + 1) / 7f;
            if (!scaffold) return Task.FromResult(new FitResult(next, 10 + (long)(step * 10), Metrics.Empty));
            var delta = model.ZerosLike();
            var d = delta["w"].AsFloat32();
            for (int i = 0; i < d.Length; i++) d[i] = step / (i + 2);
            return Task.FromResult(new FitResult(ScaffoldTensors.Result(next, delta), 10 + (long)(step * 10), Metrics.Empty));
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0, 1, Metrics.Empty));
    }
}
