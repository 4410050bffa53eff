using Google.Protobuf.Collections;

namespace Cohort.Node;

/// <summary>
/// Bounds the text a node sends its server with a result. An error can quote what the server sent (a manifest of a
/// million tensor names, an app setting of megabytes); uncut, a result could outgrow what the server receives, be
/// refused, and the task come back to fail the same way, over and over.
/// </summary>
internal static class ResultText
{
    /// <summary>Most characters of a result's error, and of each preflight problem, the marker included.</summary>
    public const int MaxLength = 2_000;

    /// <summary>Most preflight problems one answer carries, the last saying how many were left out.</summary>
    public const int MaxProblems = 100;

    /// <summary><paramref name="text"/>, or its start and a marker saying how long it was when it is longer than <see cref="MaxLength"/>.</summary>
    public static string Cap(string text)
    {
        if (text.Length <= MaxLength) return text;
        string marker = $"… (cut: {text.Length} characters in all)";
        int keep = MaxLength - marker.Length;
        // A surrogate pair is kept whole or not at all.
        if (char.IsHighSurrogate(text[keep - 1])) keep--;
        return string.Concat(text.AsSpan(0, keep), marker);
    }

    /// <summary>Caps each problem and their number, in place.</summary>
    public static void Cap(RepeatedField<string> problems)
    {
        int total = problems.Count;
        if (total > MaxProblems)
        {
            while (problems.Count > MaxProblems - 1) problems.RemoveAt(problems.Count - 1);
            problems.Add($"… and {total - (MaxProblems - 1)} more problems");
        }
        for (int i = 0; i < problems.Count; i++) problems[i] = Cap(problems[i]);
    }
}
