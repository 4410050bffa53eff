using Cohort.Apps;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Engine.Tests;

/// <summary>FedBuff through the engine's asynchronous executor over the in-memory stores.</summary>
public sealed class AsyncEngineTests
{
    private static Plan Parse(string staleness) => PlanParser.Parse($"""
        name: buffered
        app: {"{ name: step }"}
        strategy: {"{ name: fedavg }"}
        rounds: 8
        selection: {"{ min_available: 3, fraction_evaluate: 0.0 }"}
        round_timeout: 10s
        asynchronous:
          buffer_size: 2
          staleness: {staleness}
        """, "buffered.yaml", StrategyRegistry.CreateDefault());

    /// <summary>Two quick nodes and one twenty times slower.</summary>
    private static InProcessNodePool Pool() => new("step", new Dictionary<string, IClientApp>
    {
        ["fast1"] = new StepApp(TimeSpan.FromMilliseconds(5)),
        ["fast2"] = new StepApp(TimeSpan.FromMilliseconds(5)),
        ["slow"] = new StepApp(TimeSpan.FromMilliseconds(100)),
    });

    [Fact]
    public async Task With_constant_staleness_every_version_adds_the_mean_update()
    {
        var outcome = await InProcessRun.RunAsync(Parse("{ type: constant }"), Pool(), StrategyServices.None);

        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        Assert.Equal(8, outcome.Run.RoundsDone);
        var model = await outcome.Models.LoadAsync(outcome.Run.Id, 8, CancellationToken.None);
        Assert.Equal([8f, 8f, 8f, 8f], model!["w"].AsFloat32().ToArray());
    }

    [Fact]
    public async Task Stale_updates_are_weighted_down()
    {
        var outcome = await InProcessRun.RunAsync(Parse("{ type: polynomial, a: 1.0 }"), Pool(), StrategyServices.None);

        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        var results = await outcome.Store.ListNodeResultsAsync(outcome.Run.Id, CancellationToken.None);
        Assert.Contains(results, r => r.Node == "slow" && r.Ok);
        float w = (await outcome.Models.LoadAsync(outcome.Run.Id, 8, CancellationToken.None))!["w"].AsFloat32()[0];
        // Each version adds the mean of s(τ)·1 ≤ 1; an update computed on an older model adds less.
        Assert.True(w < 8f && w > 2f, $"w = {w}");
    }
}
