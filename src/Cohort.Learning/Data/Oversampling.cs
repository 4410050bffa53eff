namespace Cohort.Learning.Data;

/// <summary>
/// Grows the minority class of a site's training rows to the size of the majority class, seeded: by
/// drawing minority rows again at random, or by SMOTE (Chawla et al., 2002), which adds points on the
/// segments between a minority row and one of its k nearest minority neighbours. Applied to training
/// rows only, never to validation or test rows, so no synthetic row is ever scored.
/// </summary>
internal static class Oversampling
{
    /// <summary>The rows plus copies of random minority rows until both classes have as many rows.</summary>
    public static TabularDataset Random(TabularDataset data, int seed) => Grow(data, seed, (minority, random, dst) =>
        data.Row(minority[random.Next(minority.Length)]).CopyTo(dst));

    /// <summary>
    /// The rows plus SMOTE points until both classes have as many rows: each from a random minority
    /// row x and a random one of its <paramref name="neighbours"/> nearest minority rows (Euclidean) x',
    /// x + u·(x' − x) with u uniform in [0, 1). One-hot columns become fractions, as in plain SMOTE.
    /// With a single minority row it is copied.
    /// </summary>
    public static TabularDataset Smote(TabularDataset data, int seed, int neighbours = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(neighbours, 1);
        int[][]? nearest = null;
        return Grow(data, seed, (minority, random, dst) =>
        {
            nearest ??= Nearest(data, minority, neighbours);
            int a = random.Next(minority.Length);
            var x = data.Row(minority[a]);
            if (nearest[a].Length == 0)
            {
                x.CopyTo(dst);
                return;
            }
            var y = data.Row(minority[nearest[a][random.Next(nearest[a].Length)]]);
            float u = (float)random.NextDouble();
            for (int j = 0; j < dst.Length; j++) dst[j] = x[j] + u * (y[j] - x[j]);
        });
    }

    private static TabularDataset Grow(TabularDataset data, int seed, Action<int[], System.Random, Span<float>> synthesize)
    {
        int positives = data.PositiveCount, negatives = data.Count - positives;
        if (positives == 0 || negatives == 0 || positives == negatives) return data;
        float minorityLabel = positives < negatives ? 1 : 0;
        var minority = new List<int>();
        for (int i = 0; i < data.Count; i++)
            if (data.Labels[i] == minorityLabel) minority.Add(i);
        int extra = Math.Abs(positives - negatives), d = data.FeatureCount, n = data.Count;
        var x = new float[(n + extra) * d];
        var y = new float[n + extra];
        data.Features.CopyTo(x, 0);
        data.Labels.CopyTo(y, 0);
        var random = new System.Random(seed);
        var rows = minority.ToArray();
        for (int k = 0; k < extra; k++)
        {
            synthesize(rows, random, x.AsSpan((n + k) * d, d));
            y[n + k] = minorityLabel;
        }
        return new TabularDataset(x, y, data.FeatureNames);
    }

    // For each minority row, its k nearest other minority rows (ties broken by row order).
    private static int[][] Nearest(TabularDataset data, int[] minority, int k)
    {
        int m = minority.Length;
        var result = new int[m][];
        var distances = new double[m];
        var order = new int[m];
        for (int a = 0; a < m; a++)
        {
            var xa = data.Row(minority[a]);
            for (int b = 0; b < m; b++)
            {
                var xb = data.Row(minority[b]);
                double s = 0;
                for (int j = 0; j < xa.Length; j++)
                {
                    double e = xa[j] - xb[j];
                    s += e * e;
                }
                distances[b] = b == a ? double.PositiveInfinity : s;
                order[b] = b;
            }
            var keys = (double[])distances.Clone();
            var idx = (int[])order.Clone();
            Array.Sort(keys, idx);
            result[a] = idx.Take(Math.Min(k, m - 1)).ToArray();
        }
        return result;
    }
}
