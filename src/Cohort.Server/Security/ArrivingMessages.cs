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

    private const string AllUnauthenticated = "\n(unauthenticated)";
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _arriving = new(StringComparer.Ordinal);

    /// <summary>
    /// Counts a message from <paramref name="caller"/> until the handle is disposed; null (nothing counted) when the caller,
    /// or with <paramref name="authenticated"/> false all such callers together, already have their limit arriving.
    /// </summary>
    public IDisposable? TryBegin(string caller, bool authenticated)
    {
        lock (_lock)
        {
            if (_arriving.GetValueOrDefault(caller) >= PerCaller) return null;
            if (!authenticated && _arriving.GetValueOrDefault(AllUnauthenticated) >= Unauthenticated) return null;
            Add(caller, 1);
            if (!authenticated) Add(AllUnauthenticated, 1);
        }
        return new Fleet.Release(() =>
        {
            lock (_lock)
            {
                Add(caller, -1);
                if (!authenticated) Add(AllUnauthenticated, -1);
            }
        });
    }

    private void Add(string key, int delta)
    {
        int count = _arriving.GetValueOrDefault(key) + delta;
        if (count == 0) _arriving.Remove(key);
        else _arriving[key] = count;
    }
}
