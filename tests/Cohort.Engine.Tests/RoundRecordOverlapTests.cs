using Cohort.Apps;
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
/// A round is recorded (model, strategy state, node results, round record) while the next round's tasks
/// are out; the next round handles none of its results before that record is done, so what is stored is
/// always the rounds in order, and a record that fails stops the run with its own error.
/// </summary>
public sealed class RoundRecordOverlapTests
{
    private const int Nodes = 3;
    private const int Rounds = 4;
    private const int HeldRound = 2;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static Plan Parse() => PlanParser.Parse($$"""
        name: overlap
        app: { name: steady }
        strategy: { name: fedavgm, params: { server_momentum: 0.9 } }
        rounds: {{Rounds}}
        selection: { min_available: {{Nodes}}, min_fit: {{Nodes}}, fraction_fit: 1.0, fraction_evaluate: 0.0 }
        round_timeout: 30s
        wait_for_nodes: 5s
        seed: 5
        """, "overlap.yaml", StrategyRegistry.CreateDefault());

    private static InProcessNodePool Pool(FitCounter fits) => new("steady",
        Enumerable.Range(1, Nodes).ToDictionary(i => $"n{i}", i => (IClientApp)new SteadyApp(0.1f * i, fits)),
        new InProcessPoolOptions { Delivery = DeliveryOrder.Submission });

    private static RunExecutor Executor(INodePool pool, IStateStore store, IModelStore models) =>
        new(pool, store, models, StrategyRegistry.CreateDefault(), StrategyServices.None, NullLogger<RunExecutor>.Instance);

    private static async Task<RunRecord> NewRunAsync(Plan plan, IStateStore store)
    {
        var run = new RunRecord($"run-{Guid.NewGuid():N}"[..16], plan.Name, plan.Name, plan.App.Name, plan.Strategy.Name,
            RunStatus.Running, plan.Rounds, 0, plan.SourceText, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);
        await store.SaveRunAsync(run, CancellationToken.None);
        return run;
    }

    private static byte[] Bytes(ParameterSet set)
    {
        using var buffer = new MemoryStream();
        ParameterSetFile.WriteAsync(buffer, set).GetAwaiter().GetResult();
        return buffer.ToArray();
    }

    [Fact]
    public async Task The_next_rounds_tasks_go_out_while_a_round_is_recorded_and_its_results_wait_for_that_record()
    {
        var plan = Parse();
        var plainStore = new InMemoryStateStore();
        var plainModels = new InMemoryModelStore();
        var plainRun = await NewRunAsync(plan, plainStore);
        await Executor(Pool(new FitCounter()), plainStore, plainModels).ExecuteAsync(plainRun, plan, 1, CancellationToken.None);

        var store = new InMemoryStateStore();
        var models = new HeldModelStore(new InMemoryModelStore(), HeldRound);
        var fits = new FitCounter();
        var run = await NewRunAsync(plan, store);
        var running = Executor(Pool(fits), store, models).ExecuteAsync(run, plan, 1, CancellationToken.None);

        // Round 2's model is being written (held here); round 3's tasks still reach every node and are answered.
        await models.Holding.Task.WaitAsync(Deadline);
        await fits.ReachedAsync((HeldRound + 1) * Nodes, Deadline);
        // …but none of round 3's results is handled or written, and round 2 is not recorded yet.
        await Task.Delay(200);
        Assert.Equal([1], (await store.ListRoundsAsync(run.Id, CancellationToken.None)).Select(r => r.Round));
        Assert.DoesNotContain(await store.ListNodeResultsAsync(run.Id, CancellationToken.None), r => r.Round > HeldRound);
        Assert.Equal(1, (await store.GetRunAsync(run.Id, CancellationToken.None))!.RoundsDone);
        Assert.Equal((HeldRound + 1) * Nodes, fits.Count);

        models.Release();
        await running.WaitAsync(Deadline);
        Assert.Equal(Enumerable.Range(1, Rounds), (await store.ListRoundsAsync(run.Id, CancellationToken.None)).Select(r => r.Round));
        Assert.Equal(Rounds, (await store.GetRunAsync(run.Id, CancellationToken.None))!.RoundsDone);
        Assert.Equal(Rounds * Nodes, (await store.ListNodeResultsAsync(run.Id, CancellationToken.None)).Count);
        // FedAvgM steps the model in place: the overlap changes no bit of any round's model.
        for (int round = 1; round <= Rounds; round++)
        {
            Assert.Equal(Bytes((await plainModels.LoadAsync(plainRun.Id, round, CancellationToken.None))!),
                Bytes((await models.LoadAsync(run.Id, round, CancellationToken.None))!));
        }
    }

    [Fact]
    public async Task A_round_whose_model_cannot_be_written_fails_the_run_with_that_error_and_the_next_round_leaves_no_record()
    {
        var plan = Parse();
        var store = new InMemoryStateStore();
        var models = new HeldModelStore(new InMemoryModelStore(), HeldRound);
        var fits = new FitCounter();
        var run = await NewRunAsync(plan, store);
        var running = Executor(Pool(fits), store, models).ExecuteAsync(run, plan, 1, CancellationToken.None);

        await models.Holding.Task.WaitAsync(Deadline);
        await fits.ReachedAsync((HeldRound + 1) * Nodes, Deadline);
        models.Fail(new IOException("no space left on device (held model store)"));

        var error = await Assert.ThrowsAsync<IOException>(() => running.WaitAsync(Deadline));
        Assert.Contains("no space left on device", error.Message);
        Assert.Equal([1], (await store.ListRoundsAsync(run.Id, CancellationToken.None)).Select(r => r.Round));
        // Round 2 keeps the node results it had, as any failed round does; round 3 leaves none.
        Assert.DoesNotContain(await store.ListNodeResultsAsync(run.Id, CancellationToken.None), r => r.Round > HeldRound);
        Assert.Equal(1, (await store.GetRunAsync(run.Id, CancellationToken.None))!.RoundsDone);
        Assert.Null(await models.LoadAsync(run.Id, HeldRound + 1, CancellationToken.None));
    }

    /// <summary>Counts fits across the nodes and lets a test wait for a count.</summary>
    private sealed class FitCounter
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void OnFit() => Interlocked.Increment(ref _count);

        public async Task ReachedAsync(int count, TimeSpan deadline)
        {
            var until = DateTime.UtcNow + deadline;
            while (Count < count)
            {
                if (DateTime.UtcNow > until) throw new TimeoutException($"{Count} fits, waited for {count}");
                await Task.Delay(10);
            }
        }
    }

    /// <summary>Moves w towards a node's own target; the same answer for the same model.</summary>
    private sealed class SteadyApp(float rate, FitCounter fits) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [5])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            fits.OnFit();
            var next = parameters.Clone();
            var w = next["w"].AsFloat32();
            for (int i = 0; i < w.Length; i++) w[i] += rate * ((i + 1) * rate * 10f - w[i]);
            return Task.FromResult(new FitResult(next, 10, Metrics.Empty));
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0, 1, Metrics.Empty));
    }

    /// <summary>A model store whose save of one round's model waits until the test releases it or makes it fail.</summary>
    private sealed class HeldModelStore(IModelStore inner, int heldRound) : IModelStore
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Holding { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _gate.TrySetResult();

        public void Fail(Exception e) => _gate.TrySetException(e);

        public async Task SaveAsync(string runId, int round, ParameterSet parameters, CancellationToken ct)
        {
            if (round == heldRound)
            {
                Holding.TrySetResult();
                await _gate.Task.WaitAsync(ct);
            }
            await inner.SaveAsync(runId, round, parameters, ct);
        }

        public Task<ParameterSet?> LoadAsync(string runId, int round, CancellationToken ct) => inner.LoadAsync(runId, round, ct);

        public Task SaveCheckpointAsync(string runId, int round, StrategyCheckpoint checkpoint, CancellationToken ct) => inner.SaveCheckpointAsync(runId, round, checkpoint, ct);

        public Task<StrategyCheckpoint?> LoadCheckpointAsync(string runId, int round, CancellationToken ct) => inner.LoadCheckpointAsync(runId, round, ct);

        public Task SaveStatisticsAsync(string runId, Config statistics, CancellationToken ct) => inner.SaveStatisticsAsync(runId, statistics, ct);

        public Task<Config?> LoadStatisticsAsync(string runId, CancellationToken ct) => inner.LoadStatisticsAsync(runId, ct);

        public Task SaveRoundResultAsync(string runId, int round, string key, KeptResult result, CancellationToken ct) => inner.SaveRoundResultAsync(runId, round, key, result, ct);

        public Task<(IReadOnlyList<KeptResult> Results, IReadOnlyList<string> Problems)> LoadRoundResultsAsync(string runId, int round, CancellationToken ct) =>
            inner.LoadRoundResultsAsync(runId, round, ct);

        public Task DiscardRoundResultsAsync(string runId, int keepRound, CancellationToken ct) => inner.DiscardRoundResultsAsync(runId, keepRound, ct);

        public int LatestRound(string runId) => inner.LatestRound(runId);
    }
}
