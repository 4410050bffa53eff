namespace Cohort.Records;

/// <summary>"Did you mean" hints for names a user misspelt.</summary>
internal static class NearestName
{
    /// <summary>" (did you mean 'x'?)" for the known name nearest to <paramref name="name"/>, when one is close; else empty.</summary>
    public static string Hint(string name, IEnumerable<string> known) => Nearest(name, known) is { } best ? $" (did you mean '{best}'?)" : "";

    /// <summary>
    /// "; is 'x' a misspelling of it?" for the name in <paramref name="strays"/> (given but not known) nearest to the
    /// required <paramref name="missing"/> one, when one is close; else empty.
    /// </summary>
    public static string Slip(string missing, IEnumerable<string> strays) => Nearest(missing, strays) is { } slip ? $"; is '{slip}' a misspelling of it?" : "";

    /// <summary>The known name nearest to <paramref name="name"/> when one is close (a slip of a few keys), else null.</summary>
    public static string? Nearest(string name, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var k in known)
        {
            int d = Distance(name, k);
            if (d < bestDistance) (best, bestDistance) = (k, d);
        }
        // Close means a slip of a few keys, not a different word.
        return best is not null && bestDistance <= Math.Max(1, Math.Min(3, name.Length / 3)) ? best : null;
    }

    // Edits between two names, case aside: insertions, deletions, substitutions and swaps of two neighbouring letters
    // ("lable" is one slip from "label"), each counting one.
    private static int Distance(string a, string b)
    {
        // Three rows of the edit table: the one before the previous is what a swap looks back to.
        var before = new int[b.Length + 1];
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = Same(a[i - 1], b[j - 1]) ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
                if (i > 1 && j > 1 && Same(a[i - 1], b[j - 2]) && Same(a[i - 2], b[j - 1]))
                    current[j] = Math.Min(current[j], before[j - 2] + 1);
            }
            (before, previous, current) = (previous, current, before);
        }
        return previous[b.Length];
    }

    private static bool Same(char x, char y) => char.ToLowerInvariant(x) == char.ToLowerInvariant(y);
}
