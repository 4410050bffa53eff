using System.Collections.Concurrent;

namespace Cohort.Server.Security;

/// <summary>
/// Failed authentications (unknown or missing tokens, wrong dashboard logins) per address in one-minute
/// windows; an address over the limit is refused until its window ends, which stops token guessing and
/// registration floods.
/// </summary>
internal sealed class FailedAuthentications(int perMinute)
{
    private readonly ConcurrentDictionary<string, (long Minute, int Count)> _counts = new(StringComparer.Ordinal);

    /// <summary>Failures allowed per address per minute.</summary>
    public int PerMinute => perMinute;

    /// <summary>True when <paramref name="caller"/> failed more than the limit this minute.</summary>
    public bool IsOver(string caller) =>
        _counts.TryGetValue(caller, out var c) && c.Minute == CurrentMinute() && c.Count > perMinute;

    /// <summary>Counts one failure by <paramref name="caller"/>.</summary>
    public void Count(string caller)
    {
        long minute = CurrentMinute();
        if (_counts.Count > 10_000)
        {
            // Forget old windows so many addresses cannot grow the table without bound.
            foreach (var kv in _counts)
            {
                if (kv.Value.Minute != minute) _counts.TryRemove(kv.Key, out _);
            }
        }
        _counts.AddOrUpdate(caller, (minute, 1), (_, old) => old.Minute == minute ? (minute, old.Count + 1) : (minute, 1));
    }

    private static long CurrentMinute() => DateTime.UtcNow.Ticks / TimeSpan.TicksPerMinute;
}
