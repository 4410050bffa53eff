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
    private readonly IMeanBlockSink? _inPlace;

    /// <summary>
    /// An aggregation whose step (<paramref name="inPlace"/>) takes the mean a block at a time and writes the
    /// new model over <paramref name="global"/>'s float tensors: <see cref="Complete"/> returns
    /// <paramref name="global"/> itself, changed, so the caller must not need the old model any more.
    /// </summary>
    internal PseudoGradientAggregation(ParameterSet global, IMeanBlockSink inPlace, long pendingBudgetBytes)
        : this(global, static (_, _) => throw new InvalidOperationException("the step is applied in place"), pendingBudgetBytes) =>
        _inPlace = inPlace;

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
        if (_inPlace is not null)
        {
            var metrics = _average.CompleteInto(failures, _inPlace);
            _inPlace.Finish();
            return new FitAggregate(global, metrics);
        }
        var average = _average.Complete(failures);
        // average.Parameters becomes Δ in place: the sum buffer is ours and not needed afterwards.
        var delta = average.Parameters;
        ParameterMath.Subtract(delta, global, delta);
        return new FitAggregate(step(global, delta), average.Metrics);
    }

    /// <inheritdoc />
    public void Dispose() => _average.Dispose();
}
