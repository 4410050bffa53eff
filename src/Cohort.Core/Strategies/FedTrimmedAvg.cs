using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Coordinate-wise trimmed mean (Yin et al., 2018, "Byzantine-Robust Distributed Learning: Towards
/// Optimal Statistical Rates"): at every parameter the ⌊β·n⌋ largest and smallest values are dropped
/// and the rest averaged, unweighted. Needs every update of the round at once: they are held in memory
/// up to the server's update memory budget and on disk past it, and reduced one chunk of every update
/// at a time.
/// </summary>
public sealed class FedTrimmedAvg : FedAvg
{
    /// <summary>The registry's entry for FedTrimmedAvg.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "fedtrimmedavg", "Yin et al., 2018: the coordinate-wise trimmed mean of the updates",
        StrategyCapabilities.NeedsEveryUpdate | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy,
        [
            StrategyParameter.Number("beta", 0.2, "β, the share trimmed from each end", min: 0, max: 0.5, maxExclusive: true),
            BufferedAggregation.MemoryLimitParameter,
        ],
        (p, services) => new FedTrimmedAvg(p, services))
    {
        MemoryBound = BufferedAggregation.HeldUpdatesBound,
    };

    private readonly long _memoryLimit;

    /// <summary>Creates FedTrimmedAvg from <c>strategy.params</c>.</summary>
    public FedTrimmedAvg(Config parameters, StrategyServices? services = null) : base(services)
    {
        var p = new StrategyParameters("fedtrimmedavg", parameters);
        Beta = p.Number("beta", 0.2, v => v >= 0 && v < 0.5, "a number in [0, 0.5)");
        _memoryLimit = BufferedAggregation.ReadMemoryLimit(p);
    }

    /// <summary>β, the share trimmed from each end.</summary>
    public double Beta { get; }

    /// <inheritdoc />
    public override string Name => "fedtrimmedavg";

    /// <inheritdoc />
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) => new Aggregation(this);

    private sealed class Aggregation(FedTrimmedAvg owner) : BufferedAggregation("fedtrimmedavg", owner._memoryLimit, owner.Services)
    {
        protected override ParameterSet Combine(IReadOnlyList<NodeResult<FitResult>> results) =>
            Combine(HeldUpdate.Wrap(results.Select(r => r.Result.Parameters).ToArray()));

        private protected override ParameterSet Combine(IReadOnlyList<HeldUpdate> updates)
        {
            int trim = (int)Math.Floor(owner.Beta * updates.Count);
            return CoordinateWise.Reduce(updates, sorted => CoordinateWise.TrimmedMean(sorted, trim), sorted => CoordinateWise.TrimmedMeanLanes(sorted, trim));
        }
    }
}
