using System.Numerics;
using Cohort.Parameters;

namespace Cohort.Strategies;

/// <summary>Reduces one coordinate's values, sorted ascending, to the aggregate value.</summary>
public delegate double CoordinateReducer(ReadOnlySpan<double> sorted);

/// <summary>
/// Reduces <see cref="Vector{T}.Count"/> coordinates at once: <c>sorted[k]</c> holds, lane by lane,
/// the k-th smallest value of each coordinate.
/// </summary>
public delegate Vector<float> LaneReducer(ReadOnlySpan<Vector<float>> sorted);

/// <summary>
/// Coordinate-wise aggregation: for every element of every float tensor, the values of all results at
/// that coordinate are gathered, sorted and reduced (median, trimmed mean, Bulyan's closest-to-median
/// mean). Integer tensors take the first result's value.
/// </summary>
public static class CoordinateWise
{
    /// <summary>
    /// Applies <paramref name="reduce"/> at every coordinate of <paramref name="sets"/> (all shaped alike,
    /// at least one). With <paramref name="lanes"/>, float32 tensors are reduced a SIMD vector of
    /// coordinates at a time: the n values of each lane are sorted by a compare-exchange network of
    /// vector min/max, then reduced, with no per-coordinate sort call.
    /// </summary>
    public static ParameterSet Reduce(IReadOnlyList<ParameterSet> sets, CoordinateReducer reduce, LaneReducer? lanes = null) =>
        Reduce(HeldUpdate.Wrap(sets), reduce, lanes);

    /// <summary>
    /// <see cref="Reduce(IReadOnlyList{ParameterSet}, CoordinateReducer, LaneReducer?)"/> over held
    /// updates, in memory or on disk: each tensor is reduced one chunk of every update at a time, so the
    /// pass holds the output and one chunk per update.
    /// </summary>
    internal static ParameterSet Reduce(IReadOnlyList<HeldUpdate> updates, CoordinateReducer reduce, LaneReducer? lanes = null)
    {
        var result = updates[0].ZerosLike();
        for (int i = 0; i < result.Count; i++)
        {
            var target = result[i];
            if (target.DType == DType.Float32 && lanes is not null && Vector.IsHardwareAccelerated) ReduceLanes(updates, i, target.AsFloat32(), reduce, lanes);
            else if (target.DType == DType.Float32) ReduceTensor<float>(updates, i, target.AsFloat32(), reduce);
            else if (target.DType == DType.Float64) ReduceTensor<double>(updates, i, target.AsFloat64(), reduce);
            else updates[0].TensorAt(i).Data.CopyTo(target.Data, 0);
        }
        return result;
    }

    private static void ReduceTensor<T>(IReadOnlyList<HeldUpdate> updates, int index, Span<T> destination, CoordinateReducer reduce)
        where T : unmanaged, System.Numerics.INumberBase<T>
    {
        // Tiles of the tensor are copied update by update into a scratch block (sequential reads), then
        // each coordinate's column is gathered from the block.
        const int Tile = 512;
        int n = updates.Count;
        var chunks = new UpdateChunks<T>(updates);
        var block = new T[n * Tile];
        var column = new double[n];
        for (int chunk = 0; chunk < destination.Length; chunk += UpdateChunks<T>.Length)
        {
            int chunkLength = Math.Min(UpdateChunks<T>.Length, destination.Length - chunk);
            chunks.Load(index, chunk, chunkLength);
            for (int tile = 0; tile < chunkLength; tile += Tile)
            {
                int len = Math.Min(Tile, chunkLength - tile);
                for (int k = 0; k < n; k++)
                    chunks.Get(k, tile, len).CopyTo(block.AsSpan(k * Tile, len));
                for (int j = 0; j < len; j++)
                {
                    for (int k = 0; k < n; k++) column[k] = double.CreateTruncating(block[k * Tile + j]);
                    Array.Sort(column);
                    destination[chunk + tile + j] = T.CreateTruncating(reduce(column));
                }
            }
        }
    }

    private static void ReduceLanes(IReadOnlyList<HeldUpdate> updates, int index, Span<float> destination, CoordinateReducer reduce, LaneReducer lanes)
    {
        const int Tile = 512;
        int n = updates.Count;
        int width = Vector<float>.Count;
        var chunks = new UpdateChunks<float>(updates);
        var block = new float[n * Tile];
        var vectors = new Vector<float>[n];
        var column = new double[n];
        for (int chunk = 0; chunk < destination.Length; chunk += UpdateChunks<float>.Length)
        {
            int chunkLength = Math.Min(UpdateChunks<float>.Length, destination.Length - chunk);
            chunks.Load(index, chunk, chunkLength);
            for (int tile = 0; tile < chunkLength; tile += Tile)
            {
                int len = Math.Min(Tile, chunkLength - tile);
                int start = chunk + tile;
                for (int k = 0; k < n; k++)
                    chunks.Get(k, tile, len).CopyTo(block.AsSpan(k * Tile, len));
                int j = 0;
                for (; j + width <= len; j += width)
                {
                    for (int k = 0; k < n; k++) vectors[k] = new Vector<float>(block, k * Tile + j);
                    SortLanes(vectors);
                    lanes(vectors).CopyTo(destination.Slice(start + j, width));
                }
                for (; j < len; j++)
                {
                    for (int k = 0; k < n; k++) column[k] = block[k * Tile + j];
                    Array.Sort(column);
                    destination[start + j] = (float)reduce(column);
                }
            }
        }
    }

    /// <summary>Odd-even transposition sort of every lane: n passes of compare-exchanges between neighbours.</summary>
    private static void SortLanes(Span<Vector<float>> v)
    {
        int n = v.Length;
        for (int pass = 0; pass < n; pass++)
        {
            for (int k = pass & 1; k + 1 < n; k += 2)
            {
                var a = v[k];
                var b = v[k + 1];
                v[k] = Vector.Min(a, b);
                v[k + 1] = Vector.Max(a, b);
            }
        }
    }

    /// <summary>The median of each lane.</summary>
    public static Vector<float> MedianLanes(ReadOnlySpan<Vector<float>> sorted)
    {
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) * 0.5f;
    }

    /// <summary>The trimmed mean of each lane.</summary>
    public static Vector<float> TrimmedMeanLanes(ReadOnlySpan<Vector<float>> sorted, int trim)
    {
        var sum = Vector<float>.Zero;
        for (int k = trim; k < sorted.Length - trim; k++) sum += sorted[k];
        return sum * (1f / (sorted.Length - 2 * trim));
    }

    /// <summary>
    /// The mean of the <paramref name="count"/> values of each lane closest to the lane's median: the
    /// values are ordered by their distance to the median with the same compare-exchange network
    /// (each value travelling with its distance), and the nearest are averaged.
    /// </summary>
    public static Vector<float> ClosestToMedianMeanLanes(ReadOnlySpan<Vector<float>> sorted, int count)
    {
        int n = sorted.Length;
        var median = MedianLanes(sorted);
        Span<Vector<float>> values = stackalloc Vector<float>[n];
        Span<Vector<float>> distances = stackalloc Vector<float>[n];
        for (int k = 0; k < n; k++)
        {
            values[k] = sorted[k];
            distances[k] = Vector.Abs(sorted[k] - median);
        }
        for (int pass = 0; pass < n; pass++)
        {
            for (int k = pass & 1; k + 1 < n; k += 2)
            {
                var swap = Vector.GreaterThan(distances[k], distances[k + 1]);
                var (d0, d1, v0, v1) = (distances[k], distances[k + 1], values[k], values[k + 1]);
                distances[k] = Vector.ConditionalSelect(swap, d1, d0);
                distances[k + 1] = Vector.ConditionalSelect(swap, d0, d1);
                values[k] = Vector.ConditionalSelect(swap, v1, v0);
                values[k + 1] = Vector.ConditionalSelect(swap, v0, v1);
            }
        }
        var sum = Vector<float>.Zero;
        for (int k = 0; k < count; k++) sum += values[k];
        return sum * (1f / count);
    }

    /// <summary>The median of sorted values (mean of the two middle ones for an even count).</summary>
    public static double Median(ReadOnlySpan<double> sorted)
    {
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    /// <summary>The mean of sorted values with <paramref name="trim"/> dropped from each end.</summary>
    public static double TrimmedMean(ReadOnlySpan<double> sorted, int trim)
    {
        double sum = 0;
        for (int k = trim; k < sorted.Length - trim; k++) sum += sorted[k];
        return sum / (sorted.Length - 2 * trim);
    }

    /// <summary>The mean of the <paramref name="count"/> sorted values closest to the median (a contiguous window).</summary>
    public static double ClosestToMedianMean(ReadOnlySpan<double> sorted, int count)
    {
        double median = Median(sorted);
        int lo = 0, hi = sorted.Length - 1;
        // Drop whichever end is farther from the median until count values remain.
        while (hi - lo + 1 > count)
        {
            if (median - sorted[lo] > sorted[hi] - median) lo++;
            else hi--;
        }
        double sum = 0;
        for (int k = lo; k <= hi; k++) sum += sorted[k];
        return sum / count;
    }
}
