using Cohort.Apps;
using Cohort.Clients;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Tests;

/// <summary>Over-selection (<c>selection.accept_first</c>) through the server's executor with in-process nodes.</summary>
public sealed class AcceptFirstRoundTests
{
    private static Plan Parse(string acceptFirst, string extra = "") => PlanParser.Parse($"""
        name: engine
        app: {"{ name: step }"}
        strategy: {"{ name: fedavg }"}
        rounds: 2
        selection: {"{"} min_available: 4, min_fit: 3, fraction_fit: 1.0, fraction_evaluate: 0.0{acceptFirst} {"}"}
        round_timeout: 5s
        wait_for_nodes: 5s
        seed: 5
        {extra}
        """, "engine.yaml", StrategyRegistry.CreateDefault());

    private static InProcessNodePool Pool() => new("step",
        Enumerable.Range(1, 3).Select(i => ($"n{i}", (IClientApp)new StepApp())).Append(("late", new LateApp())).ToDictionary(n => n.Item1, n => n.Item2),
        new InProcessPoolOptions());

    [Fact]
    public async Task The_round_closes_at_the_first_K_results_and_ignores_the_late_one()
    {
        var plan = Parse(", accept_first: 3");
        var outcome = await InProcessRun.RunAsync(plan, Pool(), StrategyServices.None);

        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        var results = await outcome.Store.ListNodeResultsAsync(outcome.Run.Id, CancellationToken.None);
        foreach (int round in new[] { 1, 2 })
        {
            var fits = results.Where(r => r.Round == round && r.Phase == "fit").ToArray();
            Assert.Equal(["n1", "n2", "n3"], fits.Where(r => r.Ok).Select(r => r.Node).Order(StringComparer.Ordinal));
            var late = Assert.Single(fits, r => r.Node == "late");
            Assert.Equal(FailureKind.Cancelled, late.Failure);
            Assert.Equal("withdrawn: the round closed at the first 3 of 4 fit results (selection.accept_first)", late.Error);
        }
        // Only the three fast results were averaged (+1 per round); the late +1000 would show.
        var model = await outcome.Models.LoadAsync(outcome.Run.Id, 2, CancellationToken.None);
        Assert.Equal([2f, 2f, 2f, 2f], model!["w"].AsFloat32().ToArray());
        var events = (await outcome.Store.ListEventsAsync(outcome.Run.Id, CancellationToken.None)).Where(e => e.Kind == "round.closed_early").ToArray();
        Assert.Equal(2, events.Length);
        Assert.Contains(events, e => e.Message == "round 1: closed at the first 3 of 4 fit results (selection.accept_first 3); withdrawn, late results ignored: late");
        // A withdrawn task is not a failure of the round.
        var rounds = await outcome.Store.ListRoundsAsync(outcome.Run.Id, CancellationToken.None);
        Assert.All(rounds, r => Assert.Null(r.Error));
    }

    [Fact]
    public async Task A_withdrawn_task_does_not_count_against_the_completion_rate()
    {
        // 3 of 4 would be 75%: the withdrawn task is not one the round needed.
        var outcome = await InProcessRun.RunAsync(Parse(", accept_first: 3", "failure: { min_completion_rate: 1.0 }"), Pool(), StrategyServices.None);

        Assert.True(outcome.Run.Status == RunStatus.Finished, outcome.Run.Error);
    }

    /// <summary>
    /// Answers only once the round has given up on it (its task withdrawn or timed out), with an update
    /// that would show in the model if it were used.
    /// </summary>
    private sealed class LateApp : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [4])]));

        public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                // Withdrawn: answer anyway, as a slow site would.
            }
            var next = parameters.Clone();
            System.Numerics.Tensors.TensorPrimitives.Add(next["w"].AsFloat32(), 1000f, next["w"].AsFloat32());
            return new FitResult(next, 10, Metrics.Empty);
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0, 1, Metrics.Empty));
    }
}
