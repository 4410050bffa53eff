using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Bulyan (El Mhamdi, Guerraoui and Rouault, 2018, "The Hidden Vulnerability of Distributed Learning in
/// Byzantium"): Krum is applied repeatedly to pick θ = n − 2f updates (each pick leaves the candidate
/// set), then every coordinate is the mean of the β = θ − 2f selected values closest to their median.
/// Needs n ≥ 4f + 3 results and every update at once: they are held in memory up to the server's update
/// memory budget and on disk past it; distances and the trimmed mean are computed one chunk of every
/// update at a time.
/// </summary>
public sealed class Bulyan : FedAvg
{
    /// <summary>The registry's entry for Bulyan.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "bulyan", "El Mhamdi, Guerraoui and Rouault, 2018: repeated Krum, then a trimmed mean around the median",
        StrategyCapabilities.NeedsEveryUpdate | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy,
        [
            StrategyParameter.Integer("byzantine", 0, "f, the number of Byzantine nodes tolerated", min: 0),
            BufferedAggregation.MemoryLimitParameter,
        ],
        (p, services) => new Bulyan(p, services))
    {
        MemoryBound = BufferedAggregation.HeldUpdatesBound + "; n × n distances",
        NeedsResults = p => Needed(new StrategyParameters("bulyan", p).Int("byzantine", 0, 0)),
    };

    /// <summary>Bulyan's bound: at least 4f + 3 updates.</summary>
    internal static ResultsNeeded Needed(long byzantine) => new(4 * byzantine + 3, $"at least 4f + 3, f = {byzantine}");

    private readonly long _memoryLimit;

    /// <summary>Creates Bulyan from <c>strategy.params</c>.</summary>
    public Bulyan(Config parameters, StrategyServices? services = null) : base(services)
    {
        var p = new StrategyParameters("bulyan", parameters);
        Byzantine = p.Int("byzantine", 0, 0);
        _memoryLimit = BufferedAggregation.ReadMemoryLimit(p);
    }

    /// <summary>f, the number of Byzantine nodes tolerated.</summary>
    public int Byzantine { get; }

    /// <inheritdoc />
    public override string Name => "bulyan";

    /// <inheritdoc />
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) => new Aggregation(this);

    /// <summary>Bulyan of <paramref name="sets"/> tolerating <paramref name="byzantine"/> of them.</summary>
    public static ParameterSet Combine(IReadOnlyList<ParameterSet> sets, int byzantine) => Combine(HeldUpdate.Wrap(sets), byzantine);

    /// <summary>Bulyan of held updates, in memory or on disk, one chunk of each at a time.</summary>
    internal static ParameterSet Combine(IReadOnlyList<HeldUpdate> sets, int byzantine)
    {
        int n = sets.Count;
        if (n < Needed(byzantine).Count)
            throw new AggregationException($"Bulyan needs at least 4f + 3 results: {n} results, f = {byzantine} (lower params.byzantine or sample more nodes)");
        int theta = n - 2 * byzantine;
        int beta = theta - 2 * byzantine;
        var distances = Krum.SquaredDistances(sets);
        var remaining = Enumerable.Range(0, n).ToList();
        var selected = new List<HeldUpdate>(theta);
        while (selected.Count < theta)
        {
            // Krum's neighbour count shrinks with the candidate set; with two or fewer left it is undefined, so take them as they are.
            int pick = remaining.Count - byzantine - 2 >= 1 ? Krum.Select(distances, remaining, byzantine, 1)[0] : remaining[0];
            selected.Add(sets[pick]);
            remaining.Remove(pick);
        }
        return CoordinateWise.Reduce(selected, sorted => CoordinateWise.ClosestToMedianMean(sorted, beta), sorted => CoordinateWise.ClosestToMedianMeanLanes(sorted, beta));
    }

    private sealed class Aggregation(Bulyan owner) : BufferedAggregation("bulyan", owner._memoryLimit, owner.Services)
    {
        protected override ParameterSet Combine(IReadOnlyList<NodeResult<FitResult>> results) =>
            Bulyan.Combine(results.Select(r => r.Result.Parameters).ToArray(), owner.Byzantine);

        private protected override ParameterSet Combine(IReadOnlyList<HeldUpdate> updates) => Bulyan.Combine(updates, owner.Byzantine);
    }
}
