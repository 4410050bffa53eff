namespace Cohort.Server.Security;

/// <summary>
/// The single request messages still arriving, counted by caller (a node, or the address of a caller not yet
/// authenticated) and in all: each holds its bytes so far (up to 64 KiB) and its call's buffers, so a caller that opens
/// many calls and never finishes their bodies is refused past its share instead of growing the server's memory. A message
/// also has <see cref="Deadline"/> to arrive in full.
/// </summary>
internal sealed class ArrivingMessages
{
    /// <summary>How long one request message (at most 64 KiB) may take to arrive in full.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>Messages one caller may have arriving at once.</summary>
    public const int PerCaller = 64;

    /// <summary>Messages all callers not yet authenticated (logins) may have arriving at once.</summary>
    public const int Unauthenticated = 256;

    private const string Kind = "arriving message";
    private const string AllUnauthenticated = "\n(unauthenticated)";
    private readonly Fleet.OpenCalls _counts = new();

    /// <summary>
    /// Counts a message from <paramref name="caller"/> until the handle is disposed; null (nothing counted) when the caller,
    /// or with <paramref name="authenticated"/> false all such callers together, already have their limit arriving.
    /// </summary>
    public IDisposable? TryBegin(string caller, bool authenticated)
    {
        if (_counts.TryOpen(Kind, caller, PerCaller) is not { } mine) return null;
        if (authenticated) return mine;
        if (_counts.TryOpen(Kind, AllUnauthenticated, Unauthenticated) is not { } all)
        {
            mine.Dispose();
            return null;
        }
        return new Fleet.Release(() =>
        {
            all.Dispose();
            mine.Dispose();
        });
    }
}
