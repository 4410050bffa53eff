using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Server-side half of personalisation (FedPer, Arivazhagan et al., 2019; FedBN, Li et al., 2021): the
/// wrapped strategy aggregates only the shared tensors; tensors matching the plan's local patterns are
/// expected back from no node and keep their initial value in the global model. Every task's typed
/// settings name the patterns (<c>Plan.TaskSettings</c>), and each node's personalisation step keeps its own copies. The wrapped strategy's state
/// (a FedAdam's moments) is saved and restored through this wrapper unchanged.
/// </summary>
public sealed class PersonalizedStrategy(IStrategy inner, Personalization personalization) : IStrategy, IStatefulStrategy
{
    /// <inheritdoc />
    public string Name => inner.Name;

    /// <summary>True when the wrapped strategy carries state between rounds; otherwise <see cref="Save"/> has nothing to give.</summary>
    internal bool KeepsState => inner is IStatefulStrategy;

    /// <summary>The wrapped strategy's state (the wrapper keeps none of its own); empty when it keeps none.</summary>
    public StrategyCheckpoint Save() =>
        inner is IStatefulStrategy stateful ? stateful.Save() : new StrategyCheckpoint(Name, new ParameterSet([]), Config.Empty);

    /// <inheritdoc />
    public void Restore(StrategyCheckpoint checkpoint)
    {
        checkpoint.RequireStrategy(Name);
        if (inner is IStatefulStrategy stateful) stateful.Restore(checkpoint);
    }

    /// <inheritdoc />
    public ParameterSet? InitializeParameters() => inner.InitializeParameters();

    /// <summary>The tensors of <paramref name="set"/> that are aggregated.</summary>
    public ParameterSet Shared(ParameterSet set) => new(set.Where(t => !personalization.IsLocal(t.Name)));

    /// <inheritdoc />
    public IReadOnlyList<NodeInstruction> ConfigureFit(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes) =>
        inner.ConfigureFit(round, global, availableNodes)
            .Select(i => i with { ExpectedResult = Shared(i.ExpectedResult ?? global) })
            .ToArray();

    /// <inheritdoc />
    public IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) =>
        new Aggregation(inner.BeginAggregateFit(round, Shared(global)), global);

    /// <inheritdoc />
    public IReadOnlyList<NodeInstruction> ConfigureEvaluate(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes) =>
        inner.ConfigureEvaluate(round, global, availableNodes);

    /// <inheritdoc />
    public EvaluateAggregate AggregateEvaluate(RoundContext round, IReadOnlyList<NodeResult<EvaluateResult>> results, IReadOnlyList<NodeFailure> failures) =>
        inner.AggregateEvaluate(round, results, failures);

    /// <inheritdoc />
    public Task<EvaluateResult?> EvaluateCentralAsync(RoundContext round, ParameterSet global, CancellationToken ct) =>
        inner.EvaluateCentralAsync(round, global, ct);

    private sealed class Aggregation(IFitAggregation inner, ParameterSet global) : IFitAggregation
    {
        public void Add(string node, FitResult result) => inner.Add(node, result);

        public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
        {
            var shared = inner.Complete(failures);
            // Back into the global model's order, local tensors as they were.
            var merged = global.Select(t => shared.Parameters.Contains(t.Name) ? shared.Parameters[t.Name] : t);
            return shared with { Parameters = new ParameterSet(merged) };
        }

        public void Dispose() => inner.Dispose();
    }
}
