using Cohort.Apps;
using Cohort.Engine.Models;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Strategies;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cohort.Engine.Tests;

/// <summary>What a running run publishes about itself, and how it waits for nodes.</summary>
public sealed class RunProgressTests
{
    private static Plan Parse(int minAvailable) => PlanParser.Parse($$"""
        name: progress
        app: { name: step }
        strategy: { name: fedavg }
        rounds: 2
        selection: { min_available: {{minAvailable}}, min_fit: 2, fraction_evaluate: 0.0 }
        round_timeout: 30s
        wait_for_nodes: 10m
        seed: 5
        """, "progress.yaml", StrategyRegistry.CreateDefault());

    // With min_available below min_fit, a round still waits for min_fit nodes: with fewer it could only fail.
    [Theory]
    [InlineData(2, "2 needed (min_available), 1 connected")]
    [InlineData(1, "2 needed (min_fit), 1 connected")]
    public async Task A_waiting_run_publishes_why_and_starts_when_a_node_arrives_without_waiting_out_wait_for_nodes(int minAvailable, string reason)
    {
        var apps = new Dictionary<string, IClientApp>(StringComparer.Ordinal) { ["n01"] = new StepApp(), ["n02"] = new StepApp() };
        var pool = new GatedPool(apps, "n01");
        var store = new InMemoryStateStore();
        var executor = new RunExecutor(pool, store, new InMemoryModelStore(), StrategyRegistry.CreateDefault(), StrategyServices.None, NullLogger<RunExecutor>.Instance);
        var plan = Parse(minAvailable);
        var run = new RunRecord("r1", plan.Name, plan.Name, plan.App.Name, plan.Strategy.Name, RunStatus.Running, plan.Rounds, 0, plan.SourceText, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);
        await store.SaveRunAsync(run, CancellationToken.None);

        var running = executor.ExecuteAsync(run, plan, 1, CancellationToken.None);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        RoundProgress? waiting;
        while ((waiting = executor.Progress.Of(run.Id)) is not { Phase: ProgressPhase.WaitingForNodes })
        {
            Assert.True(DateTime.UtcNow < deadline, "the run never published that it waits for nodes");
            Assert.False(running.IsCompleted, "the run ended before it waited");
            await Task.Delay(10);
        }
        var snapshot = executor.Progress.All;
        Assert.Equal(1, waiting.Received);
        Assert.Equal(2, waiting.Expected);
        Assert.StartsWith(NodeSelection.Waiting + reason, waiting.WaitingReason, StringComparison.Ordinal);

        // The wait ends on the pool's signal: with wait_for_nodes at ten minutes, a poll-free wait that missed it would time out here.
        pool.BringOnline("n02");
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Null(executor.Progress.Of(run.Id));
        Assert.Empty(executor.Progress.All);
        // A snapshot once read does not change under its reader.
        Assert.Same(waiting, snapshot[run.Id]);
        var events = await store.ListEventsAsync(run.Id, CancellationToken.None);
        Assert.Contains(events, e => e.Kind == "run.nodes_ready");
        Assert.Equal(2, (await store.ListRoundsAsync(run.Id, CancellationToken.None)).Count(r => r.Status == RoundStatus.Done));
    }
}
