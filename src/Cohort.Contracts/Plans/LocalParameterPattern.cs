namespace Cohort.Plans;

/// <summary>Matching of tensor names against <c>*</c> patterns.</summary>
public static class LocalParameterPattern
{
    /// <summary>True when <paramref name="name"/> matches <paramref name="pattern"/> (<c>*</c> matches any run of characters).</summary>
    public static bool Matches(string pattern, string name)
    {
        int p = 0, n = 0, star = -1, mark = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = n; }
            else if (p < pattern.Length && pattern[p] == name[n]) { p++; n++; }
            else if (star >= 0) { p = star + 1; n = ++mark; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
