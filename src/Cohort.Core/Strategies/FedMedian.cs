using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Coordinate-wise median (Yin et al., 2018, "Byzantine-Robust Distributed Learning: Towards Optimal
/// Statistical Rates"): every parameter of the new model is the median of the nodes' values, unweighted,
/// so a minority of arbitrary updates cannot move it far. Needs every update of the round at once: they
/// are held in memory up to the server's update memory budget and on disk past it, and the median is
/// taken one chunk of every update at a time.
/// </summary>
public sealed class FedMedian : FedAvg
{
    /// <summary>The registry's entry for FedMedian.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "fedmedian", "Yin et al., 2018: the coordinate-wise median of the updates",
        StrategyCapabilities.NeedsEveryUpdate | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy,
        [BufferedAggregation.MemoryLimitParameter],
        (p, services) => new FedMedian(p, services))
    {
        MemoryBound = BufferedAggregation.HeldUpdatesBound,
    };

    private readonly long _memoryLimit;

    /// <summary>Creates FedMedian from <c>strategy.params</c>.</summary>
    public FedMedian(Config parameters, StrategyServices? services = null) : base(services)
    {
        _memoryLimit = BufferedAggregation.ReadMemoryLimit(new StrategyParameters("fedmedian", parameters));
    }

    /// <inheritdoc />
    public override string Name => "fedmedian";

    /// <inheritdoc />
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) => new Aggregation(_memoryLimit, Services);

    private sealed class Aggregation(long memoryLimit, StrategyServices services) : BufferedAggregation("fedmedian", memoryLimit, services)
    {
        protected override ParameterSet Combine(IReadOnlyList<NodeResult<FitResult>> results) =>
            Combine(HeldUpdate.Wrap(results.Select(r => r.Result.Parameters).ToArray()));

        private protected override ParameterSet Combine(IReadOnlyList<HeldUpdate> updates) =>
            CoordinateWise.Reduce(updates, CoordinateWise.Median, CoordinateWise.MedianLanes);
    }
}
