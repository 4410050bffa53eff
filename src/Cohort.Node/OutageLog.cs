using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Cohort.Node;

/// <summary>
/// How an outage is logged: its first failed attempt as a warning, then at most one warning per
/// <see cref="Interval"/> with the attempts so far (the others at debug level), and the reconnection that
/// ends it. A server down for a day costs a node a line a minute, not one per attempt (every few seconds).
/// </summary>
internal sealed class OutageLog(NodeOptions options, ILogger log)
{
    /// <summary>The least time between two warnings of one outage.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(60);

    private long _since;
    private long _lastWarned;
    private int _attempts;

    /// <summary>Logs a failed attempt to reach the server; the next waits <paramref name="delay"/>.</summary>
    public void Failed(string reason, TimeSpan delay)
    {
        long now = Stopwatch.GetTimestamp();
        if (_attempts++ == 0)
        {
            _since = _lastWarned = now;
            log.LogWarning("Node {Node}: server {Server} unreachable ({Reason}); retrying in {Delay:0.0}s and on, with a warning at most every {Interval:0}s while it lasts",
                options.Name, options.Connection.Server, reason, delay.TotalSeconds, Interval.TotalSeconds);
        }
        else if (Stopwatch.GetElapsedTime(_lastWarned, now) >= Interval)
        {
            _lastWarned = now;
            log.LogWarning("Node {Node}: server {Server} still unreachable ({Reason}) after {Attempts} attempts over {Seconds:0}s; retrying in {Delay:0.0}s",
                options.Name, options.Connection.Server, reason, _attempts, Stopwatch.GetElapsedTime(_since, now).TotalSeconds, delay.TotalSeconds);
        }
        else
        {
            log.LogDebug("Node {Node}: server {Server} unreachable ({Reason}), attempt {Attempts}; retrying in {Delay:0.0}s",
                options.Name, options.Connection.Server, reason, _attempts, delay.TotalSeconds);
        }
    }

    /// <summary>Logs the end of the outage, if there was one: the server answered again.</summary>
    public void Ended()
    {
        if (_attempts == 0) return;
        log.LogInformation("Node {Node}: server {Server} reachable again after {Attempts} failed attempts over {Seconds:0.0}s",
            options.Name, options.Connection.Server, _attempts, Stopwatch.GetElapsedTime(_since).TotalSeconds);
        _attempts = 0;
    }
}
