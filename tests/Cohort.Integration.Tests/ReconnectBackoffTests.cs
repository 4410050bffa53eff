using Cohort.Node;

namespace Cohort.Integration.Tests;

/// <summary>The node's reconnect delays: spread over a doubling window, bounded, fast again only after a stable session.</summary>
public sealed class ReconnectBackoffTests
{
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(10);

    [Fact]
    public void Windows_double_from_a_quarter_second_up_to_the_longest_pause()
    {
        Assert.Equal(TimeSpan.FromSeconds(0.25), ReconnectBackoff.Of(0, Max));
        Assert.Equal(TimeSpan.FromSeconds(0.5), ReconnectBackoff.Of(1, Max));
        Assert.Equal(TimeSpan.FromSeconds(8), ReconnectBackoff.Of(5, Max));
        Assert.Equal(Max, ReconnectBackoff.Of(6, Max));
        Assert.Equal(Max, ReconnectBackoff.Of(1000, Max));
    }

    [Fact]
    public void Each_delay_lies_within_its_window_and_the_window_grows_with_each_attempt()
    {
        var backoff = new ReconnectBackoff(Max, new Random(7));
        for (int attempt = 0; attempt < 40; attempt++)
        {
            var window = backoff.Window;
            Assert.Equal(ReconnectBackoff.Of(attempt, Max), window);
            var delay = backoff.Next();
            Assert.InRange(delay, TimeSpan.Zero, window);
        }
    }

    [Fact]
    public void A_fleet_that_lost_the_server_at_once_spreads_its_first_attempts_over_the_whole_window()
    {
        // A thousand nodes, each its own random source: the delays fill [0, window], not a narrow band around one value.
        var random = new Random(42);
        var delays = Enumerable.Range(0, 1000).Select(_ => new ReconnectBackoff(Max, new Random(random.Next())))
            .Select(b => { b.Next(); b.Next(); return b.Next().TotalSeconds; }).ToArray();
        double window = ReconnectBackoff.Of(2, Max).TotalSeconds;
        Assert.True(delays.Min() < 0.05 * window, $"shortest {delays.Min():0.000}s of a {window}s window");
        Assert.True(delays.Max() > 0.95 * window, $"longest {delays.Max():0.000}s of a {window}s window");
        // Every tenth of the window holds some of the fleet, none more than twice its share.
        var tenths = delays.GroupBy(d => Math.Min(9, (int)(d / window * 10))).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(Enumerable.Range(0, 10), t => Assert.InRange(tenths.GetValueOrDefault(t), 50, 200));
    }

    [Fact]
    public void Only_a_session_that_worked_for_a_while_starts_the_windows_small_again()
    {
        var backoff = new ReconnectBackoff(Max, new Random(1));
        for (int i = 0; i < 4; i++) backoff.Next();
        Assert.Equal(TimeSpan.FromSeconds(4), backoff.Window);
        // Connected, then lost again at once (the server was swamped): keep backing off.
        backoff.SessionEnded(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(4), backoff.Window);
        backoff.SessionEnded(ReconnectBackoff.StableSession);
        Assert.Equal(ReconnectBackoff.FirstWindow, backoff.Window);
    }
}
