using Cohort.Parameters;

namespace Cohort.Strategies;

/// <summary>Reduces one coordinate's values, sorted ascending, to the aggregate value.</summary>
public delegate double CoordinateReducer(ReadOnlySpan<double> sorted);

/// <summary>
/// Coordinate-wise aggregation: for every element of every float tensor, the values of all results at
/// that coordinate are gathered, sorted and reduced (median, trimmed mean, Bulyan's closest-to-median
/// mean). Integer tensors take the first result's value.
/// </summary>
public static class CoordinateWise
{
    /// <summary>Applies <paramref name="reduce"/> at every coordinate of <paramref name="sets"/> (all shaped alike, at least one).</summary>
    public static ParameterSet Reduce(IReadOnlyList<ParameterSet> sets, CoordinateReducer reduce)
    {
        var result = sets[0].ZerosLike();
        for (int i = 0; i < result.Count; i++)
        {
            var target = result[i];
            if (target.DType == DType.Float32) ReduceTensor<float>(sets, i, target.AsFloat32(), reduce);
            else if (target.DType == DType.Float64) ReduceTensor<double>(sets, i, target.AsFloat64(), reduce);
            else sets[0][i].Data.CopyTo(target.Data, 0);
        }
        return result;
    }

    private static void ReduceTensor<T>(IReadOnlyList<ParameterSet> sets, int index, Span<T> destination, CoordinateReducer reduce)
        where T : unmanaged, System.Numerics.INumberBase<T>
    {
        // Tiles of the tensor are copied set by set into a scratch block (sequential reads), then each
        // coordinate's column is gathered from the block.
        const int Tile = 512;
        int n = sets.Count;
        var block = new T[n * Tile];
        var column = new double[n];
        for (int start = 0; start < destination.Length; start += Tile)
        {
            int len = Math.Min(Tile, destination.Length - start);
            for (int k = 0; k < n; k++)
                ParameterMath.View<T>(sets[k][index]).Slice(start, len).CopyTo(block.AsSpan(k * Tile, len));
            for (int j = 0; j < len; j++)
            {
                for (int k = 0; k < n; k++) column[k] = double.CreateTruncating(block[k * Tile + j]);
                Array.Sort(column);
                destination[start + j] = T.CreateTruncating(reduce(column));
            }
        }
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
