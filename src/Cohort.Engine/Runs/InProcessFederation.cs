using Cohort.Apps;
using Cohort.Clients;
using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Strategies;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cohort.Simulation;

/// <summary>
/// Runs a plan's rounds with a given strategy instance against client apps in this process, for
/// strategy studies and benchmarks: the server's <see cref="RunExecutor"/> over an
/// <see cref="InProcessNodePool"/> delivering in submission order (reproducible), with the state and
/// models in memory. min_fit, retries, timeouts, privacy and personalisation apply as in a deployment.
/// </summary>
internal sealed class InProcessFederation(IReadOnlyDictionary<string, IClientApp> apps, IStrategy strategy)
{
    /// <summary>One round's outcome.</summary>
    /// <param name="Round">1-based round.</param>
    /// <param name="Global">The model after the round.</param>
    /// <param name="Evaluations">Each evaluated node's result on the new model.</param>
    /// <param name="Failures">Nodes whose fit result could not be used, and why.</param>
    public sealed record RoundOutcome(int Round, ParameterSet Global, IReadOnlyDictionary<string, EvaluateResult> Evaluations, IReadOnlyList<NodeFailure> Failures);

    /// <summary>Runs every round of <paramref name="plan"/>; <paramref name="onRound"/> sees each round's outcome; throws <see cref="RunFailedException"/> when the run cannot finish.</summary>
    public async Task<ParameterSet> RunAsync(Plan plan, Action<RoundOutcome>? onRound = null, CancellationToken ct = default)
    {
        var pool = new InProcessNodePool(plan.App.Name, apps, new InProcessPoolOptions { Delivery = DeliveryOrder.Submission, SeededNoise = true });
        var store = new InMemoryStateStore();
        var models = new InMemoryModelStore();
        var run = new RunRecord("in-process", plan.Name, plan.Experiment ?? plan.Name, plan.App.Name, plan.Strategy.Name,
            RunStatus.Running, plan.Rounds, 0, plan.SourceText, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);
        await store.SaveRunAsync(run, ct);
        var executor = new RunExecutor(pool, store, models, StrategyRegistry.CreateDefault(), StrategyServices.None, NullLogger<RunExecutor>.Instance);
        await executor.ExecuteAsync(run, plan, strategy, 1, ct);

        var results = await store.ListNodeResultsAsync(run.Id, ct);
        ParameterSet? global = null;
        for (int round = 1; round <= plan.Rounds; round++)
        {
            global = await models.LoadAsync(run.Id, round, ct) ?? throw new RunFailedException($"round {round}: no model was saved");
            if (onRound is null) continue;
            var ofRound = results.Where(r => r.Round == round).ToArray();
            var evaluations = ofRound.Where(r => r.Kind == TaskKind.Evaluate && r.Ok)
                .ToDictionary(r => r.Node, r => new EvaluateResult(r.Loss ?? double.NaN, r.Examples, r.Metrics), StringComparer.Ordinal);
            var failures = ofRound.Where(r => r.Kind == TaskKind.Fit && !r.Ok).Select(r => new NodeFailure(r.Node, r.Error ?? "failed")).ToArray();
            onRound(new RoundOutcome(round, global, evaluations, failures));
        }
        return global ?? (await models.LoadAsync(run.Id, 0, ct))!;
    }
}
