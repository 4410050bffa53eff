using System.Collections.Concurrent;

namespace Cohort.Server.Security;

/// <summary>
/// Failed authentications (unknown or missing tokens, wrong dashboard logins) per address. An address's
/// window opens at its first failure and lasts one minute; an address over the limit is refused until its
/// window ends, which stops token guessing and registration floods. Windows are timed on the monotonic
/// clock and are the address's own, so no wall-clock minute boundary resets a count mid-burst.
/// </summary>
internal sealed class FailedAuthentications(int perMinute, TimeProvider? clock = null)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, (long Start, int Count)> _windows = new(StringComparer.Ordinal);

    /// <summary>Failures allowed per address per minute.</summary>
    public int PerMinute => perMinute;

    /// <summary>Addresses with a window on record (ended ones are forgotten once many have failed).</summary>
    public int Tracked => _windows.Count;

    /// <summary>True when <paramref name="caller"/> failed more than the limit in its open window.</summary>
    public bool IsOver(string caller) =>
        _windows.TryGetValue(caller, out var w) && !Ended(w.Start, _clock.GetTimestamp()) && w.Count > perMinute;

    /// <summary>Counts one failure by <paramref name="caller"/>, opening a window when none is open.</summary>
    public void Count(string caller)
    {
        long now = _clock.GetTimestamp();
        if (_windows.Count > 10_000)
        {
            // Forget ended windows so many addresses cannot grow the table without bound.
            foreach (var kv in _windows)
            {
                if (Ended(kv.Value.Start, now)) _windows.TryRemove(kv.Key, out _);
            }
        }
        _windows.AddOrUpdate(caller, (now, 1), (_, old) => Ended(old.Start, now) ? (now, 1) : (old.Start, old.Count + 1));
    }

    private bool Ended(long start, long now) => _clock.GetElapsedTime(start, now) >= Window;
}
