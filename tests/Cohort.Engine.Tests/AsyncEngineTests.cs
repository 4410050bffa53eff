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

    /// <summary>Two quick nodes and one slow one.</summary>
    private static InProcessNodePool Pool() => new("step", new Dictionary<string, IClientApp>
    {
        ["fast1"] = new StepApp(TimeSpan.FromMilliseconds(2)),
        ["fast2"] = new StepApp(TimeSpan.FromMilliseconds(2)),
        ["slow"] = new StepApp(TimeSpan.FromMilliseconds(50)),
    });

    /// <summary>
    /// Two quick nodes and one whose first update is held back until the quick ones have delivered four
    /// (two versions later), so it certainly arrives stale, and long before the run ends.
    /// </summary>
    private static InProcessNodePool GatedPool()
    {
        var gate = new FitGate(4);
        return new("step", new Dictionary<string, IClientApp>
        {
            ["fast1"] = new CountedApp(new StepApp(TimeSpan.FromMilliseconds(2)), gate),
            ["fast2"] = new CountedApp(new StepApp(TimeSpan.FromMilliseconds(2)), gate),
            ["slow"] = new GatedApp(new StepApp(), gate),
        });
    }

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
        var outcome = await InProcessRun.RunAsync(Parse("{ type: polynomial, a: 1.0 }"), GatedPool(), StrategyServices.None);

        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        var results = await outcome.Store.ListNodeResultsAsync(outcome.Run.Id, CancellationToken.None);
        Assert.Contains(results, r => r.Node == "slow" && r.Ok);
        float w = (await outcome.Models.LoadAsync(outcome.Run.Id, 8, CancellationToken.None))!["w"].AsFloat32()[0];
        // Each version adds the mean of s(τ)·1 ≤ 1; an update computed on an older model adds less.
        Assert.True(w < 8f && w > 2f, $"w = {w}");
    }

    /// <summary>Opens once <paramref name="count"/> fits have been counted.</summary>
    private sealed class FitGate(int count)
    {
        private int _fits;

        public TaskCompletionSource Opened { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Count()
        {
            if (Interlocked.Increment(ref _fits) >= count) Opened.TrySetResult();
        }
    }

    private sealed class CountedApp(IClientApp inner, FitGate gate) : IClientApp
    {
        public Task<Parameters.ParameterSet> GetParametersAsync(Records.Config config, CancellationToken ct) => inner.GetParametersAsync(config, ct);

        public async Task<FitResult> FitAsync(Parameters.ParameterSet parameters, Records.Config config, CancellationToken ct)
        {
            var result = await inner.FitAsync(parameters, config, ct);
            gate.Count();
            return result;
        }

        public Task<EvaluateResult> EvaluateAsync(Parameters.ParameterSet parameters, Records.Config config, CancellationToken ct) => inner.EvaluateAsync(parameters, config, ct);
    }

    private sealed class GatedApp(IClientApp inner, FitGate gate) : IClientApp
    {
        public Task<Parameters.ParameterSet> GetParametersAsync(Records.Config config, CancellationToken ct) => inner.GetParametersAsync(config, ct);

        public async Task<FitResult> FitAsync(Parameters.ParameterSet parameters, Records.Config config, CancellationToken ct)
        {
            var result = await inner.FitAsync(parameters, config, ct);
            await gate.Opened.Task.WaitAsync(ct);
            return result;
        }

        public Task<EvaluateResult> EvaluateAsync(Parameters.ParameterSet parameters, Records.Config config, CancellationToken ct) => inner.EvaluateAsync(parameters, config, ct);
    }
}
