namespace Cohort.Node;

/// <summary>
/// How long a node waits before its next attempt to reach the server: a random delay anywhere in a window
/// that doubles with each failed attempt ("full jitter"), from <see cref="FirstWindow"/> up to the node's
/// longest pause. One node after a short blip is back within a quarter second; a fleet that lost the server
/// at the same instant (a restart) spreads its attempts over the whole window instead of arriving together,
/// as it would with a small jitter around one delay. A session that ends soon after it began does not start
/// the windows again: a node that connects, times out and reconnects keeps backing off.
/// </summary>
internal sealed class ReconnectBackoff(TimeSpan max, Random random)
{
    /// <summary>The window of the first attempt after a session that had been working.</summary>
    public static readonly TimeSpan FirstWindow = TimeSpan.FromSeconds(0.25);

    /// <summary>How long a session must have worked for the next loss to count as a fresh one.</summary>
    public static readonly TimeSpan StableSession = TimeSpan.FromSeconds(30);

    private int _attempt;

    /// <summary>The window the next delay is drawn from.</summary>
    public TimeSpan Window => Of(_attempt, max);

    /// <summary>A session that worked for <paramref name="lasted"/> ended: after a stable one, the windows start small again.</summary>
    public void SessionEnded(TimeSpan lasted)
    {
        if (lasted >= StableSession) _attempt = 0;
    }

    /// <summary>The delay before the next attempt, uniform in [0, <see cref="Window"/>]; the window then doubles.</summary>
    public TimeSpan Next()
    {
        var window = Window;
        _attempt = Math.Min(_attempt + 1, 30);
        return window * random.NextDouble();
    }

    /// <summary>The window of attempt <paramref name="attempt"/> (0-based): <see cref="FirstWindow"/>·2^attempt, at most <paramref name="max"/>.</summary>
    public static TimeSpan Of(int attempt, TimeSpan max) =>
        TimeSpan.FromSeconds(Math.Min(max.TotalSeconds, FirstWindow.TotalSeconds * Math.Pow(2, Math.Min(attempt, 30))));
}
