namespace Cohort.Server.Dashboard;

/// <summary>Where the dashboard may send a browser after login: a path on this server, never another site.</summary>
internal static class LocalPath
{
    /// <summary>Longest accepted path.</summary>
    public const int MaxLength = 2048;

    /// <summary><paramref name="next"/> when it is a plain local path, else "/".</summary>
    public static string OrRoot(string? next) => IsLocal(next) ? next! : "/";

    /// <summary>
    /// True for "/" followed by anything but a second slash or backslash, with no control characters,
    /// no backslashes anywhere (browsers read them as slashes) and a valid relative URI: "/\t/evil.example/"
    /// is refused because browsers drop the tab and follow "//evil.example/".
    /// </summary>
    public static bool IsLocal(string? next)
    {
        if (string.IsNullOrEmpty(next) || next.Length > MaxLength || next[0] != '/') return false;
        foreach (char c in next)
        {
            if (char.IsControl(c) || c == '\\' || char.IsWhiteSpace(c)) return false;
        }
        if (next.Length > 1 && next[1] == '/') return false;
        return Uri.TryCreate(next, UriKind.Relative, out _);
    }
}
