namespace Cohort.Strategies;

/// <summary>Seeded sampling of nodes for a round, honouring a fraction and a minimum.</summary>
public static class NodeSampler
{
    /// <summary>
    /// Picks max(ceil(fraction × available), minimum) nodes, capped at the number available, in a
    /// random order drawn from <paramref name="random"/>; a zero fraction with a zero minimum picks none.
    /// </summary>
    /// <remarks>
    /// The pick is the first <c>wanted</c> places of a Fisher–Yates shuffle of the nodes in ordinal
    /// order, so it is the sample a full shuffle gives, but only those places are drawn: the work is
    /// proportional to the sample, plus a sort of <paramref name="available"/> unless it is already an
    /// ordered list made on demand (virtual clients). It draws <c>wanted</c> numbers from
    /// <paramref name="random"/> (at most one fewer than the nodes), not one per node.
    /// </remarks>
    public static IReadOnlyList<string> Sample(IReadOnlyList<string> available, double fraction, int minimum, Random random)
    {
        // fraction × count carries binary rounding error (0.07 × 100 = 7.000000000000001); without the
        // tolerance the ceiling would sample one node more than the plan asked for.
        int n = available.Count;
        int wanted = Math.Max((int)Math.Ceiling(fraction * n - 1e-9), minimum);
        wanted = Math.Min(wanted, n);
        if (wanted <= 0) return [];
        IReadOnlyList<string> ordered = available is IOrderedNodeList ? available : available.Order(StringComparer.Ordinal).ToArray();
        var picked = PartialShuffle(n, wanted, random);
        Array.Sort(picked); // positions in ordinal order are names in ordinal order
        var sample = new string[wanted];
        for (int i = 0; i < wanted; i++) sample[i] = ordered[picked[i]];
        return sample;
    }

    /// <summary>
    /// The first <paramref name="wanted"/> entries of <see cref="Random.Shuffle{T}(T[])"/> applied to 0..n-1,
    /// with the same draws (<c>Next(i, n)</c> for place i), keeping only the places a swap touched.
    /// </summary>
    private static int[] PartialShuffle(int n, int wanted, Random random)
    {
        var picked = new int[wanted];
        // Only the moved places are stored: the identity elsewhere, so memory follows the sample, not n.
        var moved = new Dictionary<int, int>(Math.Min(2 * wanted, n));
        // A full shuffle stops at place n-2: the last place of a complete pick is what is left.
        int draws = Math.Min(wanted, n - 1);
        for (int i = 0; i < draws; i++)
        {
            int j = random.Next(i, n);
            int atI = moved.TryGetValue(i, out int mi) ? mi : i;
            int atJ = moved.TryGetValue(j, out int mj) ? mj : j;
            picked[i] = atJ;
            moved[j] = atI;
        }
        if (draws < wanted) picked[^1] = moved.TryGetValue(n - 1, out int last) ? last : n - 1;
        return picked;
    }
}
