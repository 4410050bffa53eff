using Cohort.Server.Fleet;

namespace Cohort.Integration.Tests;

/// <summary>The node monitor's allowance for the server's own lateness: what was late within the last timeout, at most the timeout.</summary>
public sealed class ServerLagTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(4);

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void Ticks_on_time_allow_nothing()
    {
        var lag = new ServerLag(Timeout);
        for (int i = 1; i <= 20; i++) lag.Tick(S(i * 0.5), S(-0.01));
        Assert.Equal(TimeSpan.Zero, lag.Allowance);
    }

    [Fact]
    public void Late_ticks_within_the_timeout_add_up_and_leave_it_once_older()
    {
        var lag = new ServerLag(Timeout);
        lag.Tick(S(10), S(1.5));
        lag.Tick(S(11), S(0.5));
        Assert.Equal(S(2), lag.Allowance);
        lag.Tick(S(14.5), TimeSpan.Zero);
        Assert.Equal(S(0.5), lag.Allowance);
        lag.Tick(S(15.5), TimeSpan.Zero);
        Assert.Equal(TimeSpan.Zero, lag.Allowance);
    }

    [Fact]
    public void The_allowance_never_exceeds_the_timeout()
    {
        var lag = new ServerLag(Timeout);
        lag.Tick(S(1), S(3));
        lag.Tick(S(2), S(3));
        Assert.Equal(Timeout, lag.Allowance);
    }

    [Fact]
    public void A_tick_later_than_a_whole_timeout_judges_no_node_for_one_timeout_after_it()
    {
        var lag = new ServerLag(Timeout);
        lag.Tick(S(1), TimeSpan.Zero);
        Assert.False(lag.Away);
        // Stopped for 25 s: the first tick after it runs 25 s late.
        lag.Tick(S(26), S(25));
        Assert.True(lag.Away);
        lag.Tick(S(29.5), TimeSpan.Zero);
        Assert.True(lag.Away);
        lag.Tick(S(30.5), TimeSpan.Zero);
        Assert.False(lag.Away);
        // Late, but not by a whole timeout: the allowance covers it, and nodes are judged.
        lag.Tick(S(33), S(3));
        Assert.False(lag.Away);
    }
}
