using Cohort.Apps;
using Cohort.Parameters;

namespace Cohort.Strategies;

/// <summary>
/// The streaming example-weighted average of FedAvg followed by a server-side step on the
/// pseudo-gradient Δ = average − global (FedAvgM, FedAdam, FedYogi, FedAdagrad). Memory stays at one
/// model for the sum plus the optimiser's own state.
/// </summary>
public sealed class PseudoGradientAggregation(ParameterSet global, Func<ParameterSet, ParameterSet, ParameterSet> step, long pendingBudgetBytes = 0) : IFitAggregation, ISpooledFitAggregation
{
    private readonly FedAvg.WeightedAverage _average = new(global, pendingBudgetBytes);

    /// <summary>Disk the spooled results held until the round completes may take together (see <see cref="FedAvg.WeightedAverage"/>).</summary>
    internal long SpoolHoldBytes
    {
        get => _average.SpoolHoldBytes;
        init => _average.SpoolHoldBytes = value;
    }

    /// <inheritdoc />
    public void Add(string node, FitResult result) => _average.Add(node, result);

    /// <inheritdoc />
    void ISpooledFitAggregation.Add(string node, SpooledParameters parameters, long examples, Records.Metrics metrics) =>
        ((ISpooledFitAggregation)_average).Add(node, parameters, examples, metrics);

    /// <inheritdoc />
    int ISpooledFitAggregation.FoldedOnArrival => ((ISpooledFitAggregation)_average).FoldedOnArrival;

    /// <inheritdoc />
    public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
    {
        var average = _average.Complete(failures);
        // average.Parameters becomes Δ in place: the sum buffer is ours and not needed afterwards.
        var delta = average.Parameters;
        ParameterMath.Subtract(delta, global, delta);
        return new FitAggregate(step(global, delta), average.Metrics);
    }

    /// <inheritdoc />
    public void Dispose() => _average.Dispose();
}
