using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Simulation;

/// <summary>
/// Runs a plan's rounds against client apps in this process: the strategy configures, the apps fit
/// concurrently, results are validated against the strategy's expected shapes and folded in task
/// order (so a run is reproducible), then federated evaluation. No persistence, timeouts or transport:
/// for tests and benchmarks of strategies. A deployed run goes through the server's RunExecutor.
/// </summary>
public sealed class InProcessFederation(IReadOnlyDictionary<string, IClientApp> apps, IStrategy strategy)
{
    /// <summary>One round's outcome.</summary>
    /// <param name="Round">1-based round.</param>
    /// <param name="Global">The model after the round.</param>
    /// <param name="Evaluations">Each evaluated node's result on the new model.</param>
    /// <param name="Failures">Nodes whose fit result could not be used, and why.</param>
    public sealed record RoundOutcome(int Round, ParameterSet Global, IReadOnlyDictionary<string, EvaluateResult> Evaluations, IReadOnlyList<NodeFailure> Failures);

    /// <summary>Runs every round of <paramref name="plan"/>; <paramref name="onRound"/> sees each round's outcome.</summary>
    public async Task<ParameterSet> RunAsync(Plan plan, Action<RoundOutcome>? onRound = null, CancellationToken ct = default)
    {
        var nodes = apps.Keys.Order(StringComparer.Ordinal).ToArray();
        var global = strategy.InitializeParameters() ?? await apps[nodes[0]].GetParametersAsync(plan.FitConfig(1), ct);
        for (int round = 1; round <= plan.Rounds; round++)
        {
            var context = new RoundContext("in-process", round, plan.Rounds, plan.Selection, plan.FitConfig(round), plan.EvaluateConfig(round),
                new Random(RoundSeed.Of(plan.Seed, round)));
            var instructions = strategy.ConfigureFit(context, global, nodes);
            var fits = await Task.WhenAll(instructions.Select(i => FitAsync(i, ct)));
            var failures = new List<NodeFailure>();
            using (var aggregation = strategy.BeginAggregateFit(context, global))
            {
                for (int k = 0; k < instructions.Count; k++)
                {
                    var (result, error) = fits[k];
                    var expected = instructions[k].ExpectedResult ?? global;
                    error ??= expected.FindMismatch(result!.Parameters);
                    if (error is null)
                    {
                        try
                        {
                            aggregation.Add(instructions[k].Node, result!);
                        }
                        catch (AggregationException e)
                        {
                            error = e.Message;
                        }
                    }
                    if (error is not null) failures.Add(new NodeFailure(instructions[k].Node, error));
                }
                global = aggregation.Complete(failures).Parameters;
            }

            var evaluations = new Dictionary<string, EvaluateResult>(StringComparer.Ordinal);
            foreach (var i in strategy.ConfigureEvaluate(context, global, nodes))
                evaluations[i.Node] = await apps[i.Node].EvaluateAsync(i.Parameters, i.Config, ct);
            onRound?.Invoke(new RoundOutcome(round, global, evaluations, failures));
        }
        return global;
    }

    private async Task<(FitResult? Result, string? Error)> FitAsync(NodeInstruction instruction, CancellationToken ct)
    {
        try
        {
            return (await apps[instruction.Node].FitAsync(instruction.Parameters, instruction.Config, ct), null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return (null, e.Message);
        }
    }
}
