namespace Cohort.Strategies;

/// <summary>Seeded sampling of nodes for a round, honouring a fraction and a minimum.</summary>
public static class NodeSampler
{
    /// <summary>
    /// Picks max(ceil(fraction × available), minimum) nodes, capped at the number available, in a
    /// random order drawn from <paramref name="random"/>; a zero fraction with a zero minimum picks none.
    /// </summary>
    public static IReadOnlyList<string> Sample(IReadOnlyList<string> available, double fraction, int minimum, Random random)
    {
        // fraction × count carries binary rounding error (0.07 × 100 = 7.000000000000001); without the
        // tolerance the ceiling would sample one node more than the plan asked for.
        int wanted = Math.Max((int)Math.Ceiling(fraction * available.Count - 1e-9), minimum);
        wanted = Math.Min(wanted, available.Count);
        if (wanted <= 0) return [];
        var pool = available.Order(StringComparer.Ordinal).ToArray();
        random.Shuffle(pool);
        return pool[..wanted].Order(StringComparer.Ordinal).ToArray();
    }
}
