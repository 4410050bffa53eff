namespace Cohort.Server.Fleet;

/// <summary>
/// Free text a node sends (its error messages, app and version names): kept on one line without control characters
/// (a carriage return or a terminal escape would rewrite an operator's console) and cut to a bounded length, since it
/// is stored with the run, shown on its pages and sent in every listing.
/// </summary>
internal static class NodeText
{
    /// <summary>Longest error message kept from a node's answer, in characters.</summary>
    public const int MaxErrorLength = 2_000;

    /// <summary>Longest app or version name a node may register with.</summary>
    public const int MaxNameLength = 128;

    /// <summary><paramref name="text"/> on one line, control characters as spaces, cut to <paramref name="max"/> characters with "…".</summary>
    public static string Clean(string text, int max)
    {
        // Not between the two halves of a surrogate pair.
        int length = text.Length > max ? (char.IsHighSurrogate(text[max - 1]) ? max - 1 : max) : text.Length;
        var line = string.Create(length, text, (span, source) =>
        {
            for (int i = 0; i < span.Length; i++) span[i] = Unprintable(source[i]) ? ' ' : source[i];
        }).Trim();
        return text.Length > max ? line + "…" : line;
    }

    // Control characters, and those that move or reorder what a terminal shows: line and paragraph separators,
    // bidirectional overrides and other format characters.
    private static bool Unprintable(char c) => char.IsControl(c) || char.GetUnicodeCategory(c) is
        System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator;

    /// <summary>Why <paramref name="value"/> is not a valid registered <paramref name="what"/> (app, version), or null.</summary>
    public static string? NameProblem(string value, string what) =>
        value.Length > MaxNameLength ? $"{what} name of {value.Length} characters (at most {MaxNameLength})"
        : value.Any(Unprintable) ? $"{what} name holds control characters"
        : null;
}
