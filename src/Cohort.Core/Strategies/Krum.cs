using System.Numerics;
using System.Numerics.Tensors;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Krum and Multi-Krum (Blanchard et al., 2017, "Machine Learning with Adversaries: Byzantine Tolerant
/// Gradient Descent"): each update is scored by the sum of squared distances to its n − f − 2 nearest
/// others; Krum keeps the best-scored update, Multi-Krum (m &gt; 1) averages the m best, unweighted.
/// Needs n &gt; 2f + 2 results and every update at once: they are held in memory up to the server's
/// update memory budget and on disk past it; distances and the mean are computed one chunk of every
/// update at a time.
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
        (p, services) => new Krum(p, services))
    {
        MemoryBound = BufferedAggregation.HeldUpdatesBound + "; n × n distances",
        NeedsResults = p => Needed(new StrategyParameters("krum", p).Int("byzantine", 0, 0)),
    };

    /// <summary>Krum's bound: more than 2f + 2 updates, so that each honest one has more honest neighbours than the f Byzantine ones.</summary>
    internal static ResultsNeeded Needed(long byzantine) => new(2 * byzantine + 3, $"more than 2f + 2, f = {byzantine}");

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
    public static double[,] SquaredDistances(IReadOnlyList<ParameterSet> sets) => SquaredDistances(HeldUpdate.Wrap(sets));

    /// <summary>
    /// Pairwise squared distances between held updates, in memory or on disk, accumulated chunk by chunk:
    /// the pass holds one chunk per update and the n × n matrix.
    /// </summary>
    internal static double[,] SquaredDistances(IReadOnlyList<HeldUpdate> updates)
    {
        int n = updates.Count;
        var d = new double[n, n];
        for (int t = 0; t < updates[0].Count; t++)
        {
            if (updates[0].DTypeOf(t) == DType.Float32) AddSquaredDistances<float>(updates, t, d);
            else if (updates[0].DTypeOf(t) == DType.Float64) AddSquaredDistances<double>(updates, t, d);
        }
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++) d[j, i] = d[i, j];
        }
        return d;
    }

    private static void AddSquaredDistances<T>(IReadOnlyList<HeldUpdate> updates, int tensor, double[,] d)
        where T : unmanaged, IRootFunctions<T>
    {
        int n = updates.Count;
        int length = updates[0].LengthOf(tensor);
        var chunks = new UpdateChunks<T>(updates);
        for (int start = 0; start < length; start += UpdateChunks<T>.Length)
        {
            int len = Math.Min(UpdateChunks<T>.Length, length - start);
            chunks.Load(tensor, start, len);
            for (int i = 0; i < n; i++)
            {
                for (int j = i + 1; j < n; j++)
                {
                    double distance = double.CreateTruncating(TensorPrimitives.Distance(chunks.Get(i, 0, len), chunks.Get(j, 0, len)));
                    d[i, j] += distance * distance;
                }
            }
        }
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
            throw new AggregationException($"Krum needs more than f + 2 results to score them: {n} results, f = {byzantine}");
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
    public static ParameterSet Mean(IReadOnlyList<ParameterSet> sets) => Mean(HeldUpdate.Wrap(sets));

    /// <summary>Unweighted mean of held updates, in memory or on disk, one chunk of each at a time.</summary>
    internal static ParameterSet Mean(IReadOnlyList<HeldUpdate> updates)
    {
        var sum = updates[0].ZerosLike();
        for (int i = 0; i < sum.Count; i++)
        {
            var target = sum[i];
            if (target.DType == DType.Float32) MeanOf(updates, i, target.AsFloat32());
            else if (target.DType == DType.Float64) MeanOf(updates, i, target.AsFloat64());
            // Integer tensors are not summed: take the first update's.
            else updates[0].TensorAt(i).Data.CopyTo(target.Data, 0);
        }
        return sum;
    }

    private static void MeanOf<T>(IReadOnlyList<HeldUpdate> updates, int tensor, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The sum and scale of ParameterMath.AddScaled and Scale, element by element, so the chunking changes no bit.
        var one = T.CreateTruncating(1.0);
        var scale = T.CreateTruncating(1.0 / updates.Count);
        var chunks = new UpdateChunks<T>(updates);
        for (int start = 0; start < destination.Length; start += UpdateChunks<T>.Length)
        {
            int len = Math.Min(UpdateChunks<T>.Length, destination.Length - start);
            chunks.Load(tensor, start, len);
            var target = destination.Slice(start, len);
            for (int k = 0; k < updates.Count; k++) TensorPrimitives.MultiplyAdd(chunks.Get(k, 0, len), one, target, target);
            TensorPrimitives.Multiply(target, scale, target);
        }
    }

    private sealed class Aggregation(Krum owner) : BufferedAggregation("krum", owner._memoryLimit, owner.Services)
    {
        protected override ParameterSet Combine(IReadOnlyList<NodeResult<FitResult>> results) =>
            Combine(HeldUpdate.Wrap(results.Select(r => r.Result.Parameters).ToArray()));

        private protected override ParameterSet Combine(IReadOnlyList<HeldUpdate> updates)
        {
            // Scoring works from f + 3 updates, but the tolerance of f Byzantine ones holds only above 2f + 2.
            if (updates.Count < Needed(owner.Byzantine).Count)
                throw new AggregationException($"Krum needs more than 2f + 2 results: {updates.Count} results, f = {owner.Byzantine} (lower params.byzantine or sample more nodes)");
            var chosen = Select(SquaredDistances(updates), Enumerable.Range(0, updates.Count).ToArray(), owner.Byzantine, owner.Keep);
            return Mean(chosen.Select(i => updates[i]).ToArray());
        }
    }
}
