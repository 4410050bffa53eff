namespace Cohort.Records;

/// <summary>"Did you mean" hints for names a user misspelt.</summary>
internal static class NearestName
{
    /// <summary>" (did you mean 'x'?)" for the known name nearest to <paramref name="name"/>, when one is close; else empty.</summary>
    public static string Hint(string name, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var k in known)
        {
            int d = Distance(name, k);
            if (d < bestDistance) (best, bestDistance) = (k, d);
        }
        // Close means a slip of a few keys, not a different word.
        return best is not null && bestDistance <= Math.Max(1, Math.Min(3, name.Length / 3)) ? $" (did you mean '{best}'?)" : "";
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
