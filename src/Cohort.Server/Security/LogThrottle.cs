using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Security;

/// <summary>
/// Lets one log line per kind through per interval and counts the rest, so a client that repeats a bad
/// call cannot fill the server's log.
/// </summary>
internal sealed class LogThrottle(TimeSpan interval)
{
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    /// <summary>One line per ten seconds per kind.</summary>
    public LogThrottle()
        : this(TimeSpan.FromSeconds(10))
    {
    }

    /// <summary>True when a line of <paramref name="kind"/> may be written now; <paramref name="suppressed"/> is how many were held back since the last one.</summary>
    public bool Allow(string kind, out long suppressed)
    {
        var window = _windows.GetOrAdd(kind, _ => new Window());
        lock (window)
        {
            var now = DateTime.UtcNow;
            if (now - window.Last >= interval)
            {
                suppressed = window.Suppressed;
                window.Suppressed = 0;
                window.Last = now;
                return true;
            }
            window.Suppressed++;
            suppressed = 0;
            return false;
        }
    }

    /// <summary>
    /// Writes <paramref name="line"/> as a warning when a line of <paramref name="kind"/> may be written now, with the
    /// count of those held back since the last one; the Control API's gate and the dashboard's share the kinds, so a
    /// caller switching between them cannot double the log.
    /// </summary>
    public void Warn(ILogger log, string kind, string line)
    {
        if (!Allow(kind, out long suppressed)) return;
        if (suppressed > 0) line += string.Create(CultureInfo.InvariantCulture, $" ({suppressed} more like it since the last line)");
        log.LogWarning("{Refusal}", line);
    }

    private sealed class Window
    {
        public DateTime Last { get; set; } = DateTime.MinValue;

        public long Suppressed { get; set; }
    }
}
