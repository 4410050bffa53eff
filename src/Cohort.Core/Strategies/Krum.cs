using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Krum and Multi-Krum (Blanchard et al., 2017, "Machine Learning with Adversaries: Byzantine Tolerant
/// Gradient Descent"): each update is scored by the sum of squared distances to its n − f − 2 nearest
/// others; Krum keeps the best-scored update, Multi-Krum (m &gt; 1) averages the m best, unweighted.
/// Needs n &gt; 2f + 2 results and every update at once: memory is results × model, bounded by
/// <c>memory_limit_mb</c>.
/// </summary>
public sealed class Krum : FedAvg
{
    /// <summary>The registry's entry for Krum and Multi-Krum.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "krum", "Blanchard et al., 2017: the updates closest to their neighbours (Multi-Krum averages several)",
        StrategyCapabilities.NeedsEveryUpdate | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy,
        [
            StrategyParameter.Integer("byzantine", 0, "f, the number of Byzantine nodes tolerated", min: 0),
            StrategyParameter.Integer("keep", 1, "m, the best-scored updates averaged (> 1 is Multi-Krum)", min: 1),
            BufferedAggregation.MemoryLimitParameter,
        ],
        (p, services) => new Krum(p, services));

    private readonly long _memoryLimit;

    /// <summary>Creates Krum from <c>strategy.params</c>.</summary>
    public Krum(Config parameters, StrategyServices? services = null) : base(services)
    {
        var p = new StrategyParameters("krum", parameters);
        Byzantine = p.Int("byzantine", 0, 0);
        Keep = p.Int("keep", 1, 1);
        _memoryLimit = BufferedAggregation.ReadMemoryLimit(p);
    }

    /// <summary>f, the number of Byzantine nodes tolerated.</summary>
    public int Byzantine { get; }

    /// <summary>m, the number of best-scored updates averaged (1 = Krum).</summary>
    public int Keep { get; }

    /// <inheritdoc />
    public override string Name => "krum";

    /// <inheritdoc />
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) => new Aggregation(this);

    /// <summary>Pairwise squared distances between the sets.</summary>
    public static double[,] SquaredDistances(IReadOnlyList<ParameterSet> sets)
    {
        int n = sets.Count;
        var d = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
                d[i, j] = d[j, i] = ParameterMath.SquaredDistance(sets[i], sets[j]);
        }
        return d;
    }

    /// <summary>
    /// Krum scores of the candidates (indices into <paramref name="distances"/>): for each, the sum of
    /// squared distances to its <c>candidates − f − 2</c> nearest other candidates.
    /// </summary>
    public static double[] Scores(double[,] distances, IReadOnlyList<int> candidates, int byzantine)
    {
        int n = candidates.Count;
        int neighbours = n - byzantine - 2;
        if (neighbours < 1)
            throw new AggregationException($"Krum needs more than 2f + 2 results: {n} results, f = {byzantine}");
        var scores = new double[n];
        var row = new double[n - 1];
        for (int a = 0; a < n; a++)
        {
            int k = 0;
            for (int b = 0; b < n; b++)
                if (b != a) row[k++] = distances[candidates[a], candidates[b]];
            Array.Sort(row);
            double s = 0;
            for (int j = 0; j < neighbours; j++) s += row[j];
            scores[a] = s;
        }
        return scores;
    }

    /// <summary>The indices of the <paramref name="keep"/> best-scored candidates, best first (ties: lower index).</summary>
    public static int[] Select(double[,] distances, IReadOnlyList<int> candidates, int byzantine, int keep)
    {
        var scores = Scores(distances, candidates, byzantine);
        var order = Enumerable.Range(0, candidates.Count).ToArray();
        Array.Sort(order, (x, y) => scores[x] != scores[y] ? scores[x].CompareTo(scores[y]) : x.CompareTo(y));
        return order[..Math.Min(keep, order.Length)].Select(i => candidates[i]).ToArray();
    }

    /// <summary>Unweighted mean of <paramref name="sets"/>.</summary>
    public static ParameterSet Mean(IReadOnlyList<ParameterSet> sets)
    {
        var sum = sets[0].ZerosLike();
        foreach (var s in sets) ParameterMath.AddScaled(sum, s, 1.0);
        ParameterMath.Scale(sum, 1.0 / sets.Count);
        // Integer tensors are not summed: take the first set's.
        for (int i = 0; i < sum.Count; i++)
            if (!ParameterMath.IsFloat(sum[i].DType)) sets[0][i].Data.CopyTo(sum[i].Data, 0);
        return sum;
    }

    private sealed class Aggregation(Krum owner) : BufferedAggregation("krum", owner._memoryLimit)
    {
        protected override ParameterSet Combine(IReadOnlyList<NodeResult<FitResult>> results)
        {
            var sets = results.Select(r => r.Result.Parameters).ToArray();
            var chosen = Select(SquaredDistances(sets), Enumerable.Range(0, sets.Length).ToArray(), owner.Byzantine, owner.Keep);
            return Mean(chosen.Select(i => sets[i]).ToArray());
        }
    }
}
