using Cohort.Apps;
using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Tests;

/// <summary>A round's node results are written behind it, never in its way, and always before its round record.</summary>
public sealed class NodeResultWriterTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static Plan Parse(int rounds) => PlanParser.Parse($"""
        name: writer
        app: {"{ name: step }"}
        strategy: {"{ name: fedavg }"}
        rounds: {rounds}
        selection: {"{ min_available: 4, min_fit: 4, min_evaluate: 4, fraction_fit: 1.0, fraction_evaluate: 1.0 }"}
        round_timeout: 60s
        wait_for_nodes: 5s
        seed: 3
        """, "writer.yaml", StrategyRegistry.CreateDefault());

    private static InProcessNodePool Pool(Func<IClientApp> app) =>
        new("step", Enumerable.Range(1, 4).ToDictionary(i => $"n{i}", _ => app()), new InProcessPoolOptions());

    [Fact]
    public async Task The_round_goes_on_to_evaluation_while_its_fit_results_are_still_being_written()
    {
        var store = new RecordingStore { HoldResults = true };
        var evaluating = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = InProcessRun.RunAsync(Parse(rounds: 1), Pool(() => new SignallingApp(evaluating)), StrategyServices.None, store, new InMemoryModelStore());

        // With the writes held, the executor still aggregates the fit results and hands out the evaluation:
        // it never waited for a node result to be stored.
        await evaluating.Task.WaitAsync(Deadline);
        Assert.DoesNotContain(store.Log, e => e.StartsWith("results", StringComparison.Ordinal));
        Assert.DoesNotContain(store.Log, e => e.StartsWith("round", StringComparison.Ordinal));

        store.Release();
        var outcome = await run.WaitAsync(Deadline);
        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        Assert.Equal(8, (await store.ListNodeResultsAsync(outcome.Run.Id, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Every_node_result_of_a_round_is_stored_before_the_round_record()
    {
        // A slow store: each batch of results takes a moment, so a round record written without waiting would overtake them.
        var store = new RecordingStore { SlowResults = true };
        var outcome = await InProcessRun.RunAsync(Parse(rounds: 3), Pool(() => new StepApp()), StrategyServices.None, store, new InMemoryModelStore())
            .WaitAsync(Deadline);

        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        for (int round = 1; round <= 3; round++)
        {
            int saved = store.Log.IndexOf($"round {round}");
            Assert.True(saved >= 0, $"round {round} was not saved");
            // 4 fit and 4 evaluation results, in however many batches, all before the round record.
            int before = store.Log.Take(saved).Where(e => e.StartsWith($"results {round} ", StringComparison.Ordinal)).Sum(e => int.Parse(e.Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(8, before);
        }
    }

    [Fact]
    public async Task Results_added_while_a_batch_is_written_go_in_the_next_batch_in_order()
    {
        var store = new RecordingStore { HoldResults = true };
        var writer = new NodeResultWriter(store);
        writer.Add(Result("a"));
        await store.Writing.WaitAsync(Deadline);
        // The first batch is held in the store; these two queue behind it.
        writer.Add(Result("b"));
        writer.Add(Result("c"));
        var flushed = writer.FlushAsync();
        Assert.False(flushed.IsCompleted);
        store.Release();
        await flushed.WaitAsync(Deadline);

        Assert.Equal(["results 1 1", "results 1 2"], store.Log);
        Assert.Equal(["a", "b", "c"], (await store.ListNodeResultsAsync("r", CancellationToken.None)).Select(r => r.Node));
    }

    [Fact]
    public async Task Results_held_when_their_round_ends_are_taken_for_its_record_and_never_written_by_the_writer()
    {
        var store = new RecordingStore();
        // A hold longer than the test: nothing is written unless asked.
        var writer = new NodeResultWriter(store, TimeSpan.FromMinutes(5));
        writer.Add(Result("a"));
        writer.Add(Result("b"));

        var held = await writer.TakeHeldAsync().WaitAsync(Deadline);

        Assert.Equal(["a", "b"], held.Select(r => r.Node));
        await writer.FlushAsync().WaitAsync(Deadline);
        Assert.Empty(store.Log);
    }

    [Fact]
    public async Task A_result_no_round_takes_is_written_once_the_hold_has_passed()
    {
        var store = new RecordingStore();
        var writer = new NodeResultWriter(store, TimeSpan.FromMilliseconds(50));
        writer.Add(Result("a"));
        writer.Add(Result("b"));

        // Nobody flushes or takes them: the hold's end writes both as one batch.
        var deadline = DateTime.UtcNow + Deadline;
        while (store.Log.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(10);

        Assert.Equal(["results 1 2"], store.Log);
        Assert.Empty(await writer.TakeHeldAsync().WaitAsync(Deadline));
        Assert.Equal(["a", "b"], (await store.ListNodeResultsAsync("r", CancellationToken.None)).Select(r => r.Node));
    }

    [Fact]
    public async Task Taking_the_held_results_waits_until_no_batch_is_being_written_and_the_writer_stores_those_queued_meanwhile()
    {
        var store = new RecordingStore { HoldResults = true };
        var writer = new NodeResultWriter(store, TimeSpan.FromMinutes(5));
        writer.Add(Result("a"));
        // Written now, and held in the store; b and c arrive after it.
        var flushing = writer.FlushAsync();
        await store.Writing.WaitAsync(Deadline);
        writer.Add(Result("b"));
        writer.Add(Result("c"));

        var taking = writer.TakeHeldAsync();
        Assert.False(taking.IsCompleted);
        store.Release();
        var held = await taking.WaitAsync(Deadline);
        await flushing.WaitAsync(Deadline);

        // The writer went on from a's batch to b and c (queued behind it, in order): nothing is left to take.
        Assert.Empty(held);
        Assert.Equal(["results 1 1", "results 1 2"], store.Log);
        Assert.Equal(["a", "b", "c"], (await store.ListNodeResultsAsync("r", CancellationToken.None)).Select(r => r.Node));
    }

    [Fact]
    public async Task A_batch_the_store_refuses_is_thrown_by_the_next_take_and_flush_and_later_results_still_get_their_batch()
    {
        var store = new RecordingStore { RefuseNode = "a" };
        var writer = new NodeResultWriter(store, TimeSpan.FromMilliseconds(20));
        writer.Add(Result("a"));
        var deadline = DateTime.UtcNow + Deadline;
        while (store.Refusals == 0 && DateTime.UtcNow < deadline) await Task.Delay(5);
        writer.Add(Result("b"));

        // b's batch is written by the hold's end although a's failed; the failure is not forgotten.
        while (store.Log.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(5);
        Assert.Equal(["results 1 1"], store.Log);
        Assert.Equal(["b"], (await store.ListNodeResultsAsync("r", CancellationToken.None)).Select(r => r.Node));
        Assert.Equal("refused a", (await Assert.ThrowsAsync<IOException>(() => writer.TakeHeldAsync())).Message);
        Assert.Equal("refused a", (await Assert.ThrowsAsync<IOException>(() => writer.FlushAsync())).Message);
    }

    [Fact]
    public async Task Results_a_round_could_not_commit_are_stored_by_the_flush_on_its_way_out()
    {
        // The round record's commit fails (the store refuses round 2): the run stops with the store's error, and round 2's
        // results, which the writer held for that commit, are still stored, as they were before the round record took them.
        var store = new RecordingStore { RefuseRound = 2 };
        var refused = await Assert.ThrowsAsync<IOException>(() => InProcessRun.RunAsync(Parse(rounds: 3), Pool(() => new StepApp()), StrategyServices.None, store, new InMemoryModelStore())
            .WaitAsync(Deadline));

        Assert.Equal("round 2 refused", refused.Message);
        var run = Assert.Single(await store.ListRunsAsync(null, CancellationToken.None));
        Assert.Equal(1, run.RoundsDone);
        var stored = await store.ListNodeResultsAsync(run.Id, CancellationToken.None);
        Assert.Equal(8, stored.Count(r => r.Round == 1));
        Assert.Equal(8, stored.Count(r => r.Round == 2));
        Assert.DoesNotContain(store.Log, e => e == "round 2");
    }

    private static NodeResultRecord Result(string node) =>
        new("r", 1, node, "fit", true, null, 1, null, Metrics.Empty, 0, 0, DateTimeOffset.UtcNow);

    /// <summary>An app whose evaluation says it was called.</summary>
    private sealed class SignallingApp(TaskCompletionSource evaluating) : IClientApp
    {
        private readonly StepApp _inner = new();

        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => _inner.GetParametersAsync(config, ct);

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) => _inner.FitAsync(parameters, config, ct);

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            evaluating.TrySetResult();
            return _inner.EvaluateAsync(parameters, config, ct);
        }
    }

    /// <summary>An in-memory store that logs node-result batches and round records in order, and can hold or slow the batches.</summary>
    private sealed class RecordingStore : IStateStore
    {
        private readonly InMemoryStateStore _inner = new();
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _writing = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _gate = new();
        private readonly List<string> _log = [];

        public bool HoldResults { get; init; }

        public bool SlowResults { get; init; }

        /// <summary>A batch with this node's result is refused (an <see cref="IOException"/>).</summary>
        public string? RefuseNode { get; init; }

        /// <summary>This round's completion is refused (an <see cref="IOException"/>) and writes nothing.</summary>
        public int? RefuseRound { get; init; }

        private int _refusals;

        /// <summary>Batches refused so far.</summary>
        public int Refusals => Volatile.Read(ref _refusals);

        public List<string> Log
        {
            get
            {
                lock (_gate) return [.. _log];
            }
        }

        /// <summary>Completes when the first batch reaches the store.</summary>
        public Task Writing => _writing.Task;

        public void Release() => _released.TrySetResult();

        private void Note(string entry)
        {
            lock (_gate) _log.Add(entry);
        }

        public async Task AddNodeResultsAsync(IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
        {
            _writing.TrySetResult();
            if (HoldResults) await _released.Task;
            if (SlowResults) await Task.Delay(20, ct);
            if (RefuseNode is { } refused && results.Any(r => r.Node == refused))
            {
                Interlocked.Increment(ref _refusals);
                throw new IOException($"refused {refused}");
            }
            foreach (var r in results) await _inner.AddNodeResultAsync(r, ct);
            Note($"results {results[0].Round} {results.Count}");
        }

        public Task AddNodeResultAsync(NodeResultRecord result, CancellationToken ct) => AddNodeResultsAsync([result], ct);

        public async Task<RunRecord?> CompleteRoundAsync(RoundRecord round, IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
        {
            if (round.Round == RefuseRound) throw new IOException($"round {round.Round} refused");
            if (results.Count > 0) await AddNodeResultsAsync(results, ct);
            await SaveRoundAsync(round, ct);
            return await ((IStateStore)_inner).SetRoundsDoneAsync(round.RunId, round.Round, ct);
        }

        public async Task SaveRoundAsync(RoundRecord round, CancellationToken ct)
        {
            await _inner.SaveRoundAsync(round, ct);
            Note($"round {round.Round}");
        }

        public Task InitializeAsync(CancellationToken ct) => _inner.InitializeAsync(ct);

        public Task SetNodeTokenAsync(string node, string tokenHash, CancellationToken ct) => _inner.SetNodeTokenAsync(node, tokenHash, ct);

        public Task<string?> FindNodeByTokenHashAsync(string tokenHash, CancellationToken ct) => _inner.FindNodeByTokenHashAsync(tokenHash, ct);

        public Task<IReadOnlyList<NodeTokenRecord>> ListNodeTokensAsync(CancellationToken ct) => _inner.ListNodeTokensAsync(ct);

        public Task<bool> RevokeNodeTokenAsync(string node, CancellationToken ct) => _inner.RevokeNodeTokenAsync(node, ct);

        public Task<bool> RemoveNodeAsync(string node, CancellationToken ct) => _inner.RemoveNodeAsync(node, ct);

        public Task UpdateNodeAsync(NodeRecord node, CancellationToken ct) => _inner.UpdateNodeAsync(node, ct);

        public Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken ct) => _inner.ListNodesAsync(ct);

        public Task SaveRunAsync(RunRecord run, CancellationToken ct) => _inner.SaveRunAsync(run, ct);

        public Task<RunRecord?> GetRunAsync(string id, CancellationToken ct) => _inner.GetRunAsync(id, ct);

        public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunStatus? status, CancellationToken ct) => _inner.ListRunsAsync(status, ct);

        public Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string runId, CancellationToken ct) => _inner.ListRoundsAsync(runId, ct);

        public Task DeleteRoundsAfterAsync(string runId, int round, CancellationToken ct) => _inner.DeleteRoundsAfterAsync(runId, round, ct);

        public Task<IReadOnlyList<NodeResultRecord>> ListNodeResultsAsync(string runId, CancellationToken ct) => _inner.ListNodeResultsAsync(runId, ct);

        public Task AddEventAsync(string? runId, string kind, string message, CancellationToken ct) => _inner.AddEventAsync(runId, kind, message, ct);

        public Task<IReadOnlyList<EventRecord>> ListEventsAsync(string? runId, CancellationToken ct) => _inner.ListEventsAsync(runId, ct);
    }
}
