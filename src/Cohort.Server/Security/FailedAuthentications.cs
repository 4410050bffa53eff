using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;

namespace Cohort.Server.Security;

/// <summary>
/// Failed authentications (unknown or missing tokens, wrong logins) per address. An address's window opens at its
/// first failure and lasts one minute; an address that has failed the limit's number of times is refused until its
/// window ends, which stops token guessing and registration floods. Windows are timed on the monotonic clock and are
/// the address's own, so no wall-clock minute boundary resets a count mid-burst. IPv6 callers are counted per /64,
/// the block one subscriber gets, so rotating through it does not reset the count.
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

    /// <summary>The key an address is counted under: an IPv4 address (also one mapped into IPv6) as itself, an IPv6 address as its /64.</summary>
    public static string KeyOf(IPAddress? address)
    {
        if (address is null) return "unknown";
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address.ToString();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>The key the caller of <paramref name="http"/> is counted under.</summary>
    public static string KeyOf(HttpContext http) => KeyOf(http.Connection.RemoteIpAddress);

    /// <summary>True when <paramref name="caller"/> has failed the limit's number of times in its open window.</summary>
    public bool IsOver(string caller) =>
        _windows.TryGetValue(caller, out var w) && !Ended(w.Start, _clock.GetTimestamp()) && w.Count >= perMinute;

    /// <summary>
    /// How long <paramref name="caller"/> still waits before its window ends when it is over the limit (zero when it is
    /// not): what a refusal's Retry-After says.
    /// </summary>
    public TimeSpan RetryAfter(string caller)
    {
        if (!_windows.TryGetValue(caller, out var w) || w.Count < perMinute) return TimeSpan.Zero;
        var left = Window - _clock.GetElapsedTime(w.Start, _clock.GetTimestamp());
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>Counts one failure by <paramref name="caller"/>, opening a window when none is open.</summary>
    public void Count(string caller)
    {
        long now = Forget();
        _windows.AddOrUpdate(caller, (now, 1), (_, old) => Ended(old.Start, now) ? (now, 1) : (old.Start, old.Count + 1));
    }

    /// <summary>
    /// Counts an attempt by <paramref name="caller"/> as a failure before it is checked, unless the address is over the
    /// limit (false, nothing counted): concurrent attempts cannot all pass a check made before any of them failed.
    /// An attempt that succeeds gives its count back with <see cref="GiveBack"/>.
    /// </summary>
    public bool TryReserve(string caller)
    {
        long now = Forget();
        while (true)
        {
            if (!_windows.TryGetValue(caller, out var w))
            {
                if (perMinute <= 0) return false;
                if (_windows.TryAdd(caller, (now, 1))) return true;
            }
            else if (Ended(w.Start, now))
            {
                if (perMinute <= 0) return false;
                if (_windows.TryUpdate(caller, (now, 1), w)) return true;
            }
            else if (w.Count >= perMinute) return false;
            else if (_windows.TryUpdate(caller, (w.Start, w.Count + 1), w)) return true;
        }
    }

    /// <summary>Takes back one count a successful attempt reserved, so valid users behind one address do not use up its limit.</summary>
    public void GiveBack(string caller)
    {
        while (_windows.TryGetValue(caller, out var w) && w.Count > 0)
        {
            if (w.Count == 1 ? _windows.TryRemove(new KeyValuePair<string, (long, int)>(caller, w)) : _windows.TryUpdate(caller, (w.Start, w.Count - 1), w)) return;
        }
    }

    /// <summary>Forgets ended windows once many addresses have failed, so they cannot grow the table without bound; returns now.</summary>
    private long Forget()
    {
        long now = _clock.GetTimestamp();
        if (_windows.Count > 10_000)
        {
            foreach (var kv in _windows)
            {
                if (Ended(kv.Value.Start, now)) _windows.TryRemove(kv.Key, out _);
            }
        }
        return now;
    }

    private bool Ended(long start, long now) => _clock.GetElapsedTime(start, now) >= Window;
}
