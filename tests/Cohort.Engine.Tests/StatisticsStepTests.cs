using System.Collections.Concurrent;
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

/// <summary>The statistics step before round 1: asked once of every node, carried by every later task, kept for a resumed run.</summary>
public sealed class StatisticsStepTests
{
    private static readonly Plan Plan = PlanParser.Parse("""
        name: stats
        app: { name: counting, settings: { kind: rows } }
        strategy: { name: fedavg }
        rounds: 2
        selection: { min_available: 2, min_fit: 2, fraction_fit: 1.0, fraction_evaluate: 0.0 }
        round_timeout: 30s
        wait_for_nodes: 5s
        """, "stats.yaml", StrategyRegistry.CreateDefault());

    private static RunExecutor Executor(INodePool pool, IStateStore store, IModelStore models) =>
        new(pool, store, models, StrategyRegistry.CreateDefault(), new StrategyServices { ServerApps = [new SummingServerApp()] }, NullLogger<RunExecutor>.Instance);

    private static RecordingPool Pool(params (string Node, IClientApp App)[] nodes) =>
        new(new InProcessNodePool("counting", nodes.ToDictionary(n => n.Node, n => n.App), new InProcessPoolOptions { Delivery = DeliveryOrder.Submission }));

    private static async Task<RunRecord> NewRunAsync(IStateStore store)
    {
        var run = new RunRecord($"run-{Guid.NewGuid():N}"[..16], Plan.Name, Plan.Name, Plan.App.Name, Plan.Strategy.Name,
            RunStatus.Running, Plan.Rounds, 0, Plan.SourceText, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);
        await store.SaveRunAsync(run, CancellationToken.None);
        return run;
    }

    [Fact]
    public async Task Every_node_is_asked_once_and_every_later_task_carries_the_combined_statistics_also_after_a_resume()
    {
        var store = new InMemoryStateStore();
        var models = new InMemoryModelStore();
        var run = await NewRunAsync(store);
        var pool = Pool(("a", new CountingApp(30)), ("b", new CountingApp(12)));

        await Executor(pool, store, models).ExecuteAsync(run, Plan, 1, CancellationToken.None);

        Assert.Equal(["a", "b"], pool.Tasks.Where(t => t.Kind == TaskKind.Statistics).Select(t => t.Node).Order());
        var later = pool.Tasks.Where(t => t.Kind != TaskKind.Statistics).ToList();
        Assert.Contains(later, t => t.Kind == TaskKind.GetParameters);
        Assert.All(later, t => Assert.Equal(42, t.AppSettings["total_rows"].AsInt()));
        Assert.All(pool.Tasks.Where(t => t.Kind == TaskKind.Statistics), t => Assert.False(t.AppSettings.ContainsKey("total_rows")));
        // The nodes' own statistics are not kept, only their combination.
        var recorded = (await store.ListNodeResultsAsync(run.Id, CancellationToken.None)).Where(r => r.Phase == "statistics").ToList();
        Assert.Equal(2, recorded.Count);
        Assert.All(recorded, r => Assert.Empty(r.Metrics));
        Assert.Equal(42, (await models.LoadStatisticsAsync(run.Id, CancellationToken.None))!["total_rows"].AsInt());

        // A resumed run (round 2 again) reads the statistics back: no node is asked again.
        var resumedPool = Pool(("a", new CountingApp(30)), ("b", new CountingApp(12)));
        var resumed = (await store.GetRunAsync(run.Id, CancellationToken.None))! with { RoundsDone = 1 };
        await Executor(resumedPool, store, models).ExecuteAsync(resumed, Plan, 2, CancellationToken.None);

        Assert.DoesNotContain(resumedPool.Tasks, t => t.Kind == TaskKind.Statistics);
        Assert.NotEmpty(resumedPool.Tasks);
        Assert.All(resumedPool.Tasks, t => Assert.Equal(42, t.AppSettings["total_rows"].AsInt()));
    }

    [Fact]
    public async Task A_node_that_cannot_describe_its_data_fails_the_run_at_the_statistics_step_naming_it()
    {
        var store = new InMemoryStateStore();
        var run = await NewRunAsync(store);
        var pool = Pool(("a", new CountingApp(30)), ("b", new NoStatisticsApp()));

        var e = await Assert.ThrowsAsync<RunFailedException>(() => Executor(pool, store, new InMemoryModelStore()).ExecuteAsync(run, Plan, 1, CancellationToken.None));

        Assert.Equal("statistics step: b: this node's app computes no statistics, which the run's settings need", e.Message);
        Assert.DoesNotContain(pool.Tasks, t => t.Kind != TaskKind.Statistics);
    }

    /// <summary>Adds the nodes' row counts up into the setting <c>total_rows</c>.</summary>
    private sealed class SummingServerApp : IServerApp
    {
        public string Name => "counting";

        public bool NeedsStatistics(Plan plan) => plan.App.Settings.ContainsKey("kind");

        public Config AggregateStatistics(Plan plan, IReadOnlyList<NodeStatistics> nodes) =>
            new([KeyValuePair.Create("total_rows", Scalar.Of(nodes.Sum(n => n.Metrics["rows"].AsInt())))]);

        public CentralEvaluator? CreateCentralEvaluator(Plan plan) => null;
    }

    private class NoStatisticsApp : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.FromFloat32("w", [2], [0f, 0f])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new FitResult(parameters, 10, Metrics.Empty));

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0.5, 10, Metrics.Empty));
    }

    private sealed class CountingApp(long rows) : NoStatisticsApp, IStatisticsClientApp
    {
        public Task<StatisticsResult> ComputeStatisticsAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new StatisticsResult(rows, new Metrics([KeyValuePair.Create("rows", Scalar.Of(rows))])));
    }

    /// <summary>Keeps every task the executor submits.</summary>
    private sealed class RecordingPool(INodePool inner) : INodePool
    {
        private readonly ConcurrentQueue<PendingTask> _tasks = new();

        public IReadOnlyList<PendingTask> Tasks => [.. _tasks];

        public IReadOnlyList<string> Available(string app) => inner.Available(app);

        public Task<TaskOutcome> Submit(PendingTask task)
        {
            _tasks.Enqueue(task);
            return inner.Submit(task);
        }

        public void Fail(PendingTask task, FailureKind kind, string reason) => inner.Fail(task, kind, reason);
    }
}
