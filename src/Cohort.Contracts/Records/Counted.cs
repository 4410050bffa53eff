namespace Cohort.Records;

/// <summary>A count and its noun for people: "1 round", "3 rounds".</summary>
internal static class Counted
{
    /// <summary><paramref name="count"/> followed by <paramref name="noun"/>, with an "s" unless the count is one.</summary>
    public static string Of(long count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";
}
