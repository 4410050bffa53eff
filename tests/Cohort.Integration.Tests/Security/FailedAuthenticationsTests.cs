using Cohort.Server.Security;

namespace Cohort.Integration.Tests.Security;

/// <summary>The per-address failure window opens at the address's first failure, not at a wall-clock minute.</summary>
public sealed class FailedAuthenticationsTests
{
    /// <summary>A clock the test moves by hand.</summary>
    private sealed class HandClock : TimeProvider
    {
        public long Ticks { get; set; } = 1_000_000_000;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Ticks;
        public void Advance(TimeSpan by) => Ticks += by.Ticks;
    }

    [Fact]
    public void An_address_over_the_limit_stays_refused_for_a_minute_from_its_first_failure_whatever_the_wall_clock_minute()
    {
        var clock = new HandClock();
        var limit = new FailedAuthentications(3, clock);
        for (int i = 0; i < 3; i++) limit.Count("10.0.0.1");
        Assert.False(limit.IsOver("10.0.0.1"));

        // 59 s later (past any wall-clock minute boundary in between) the fourth failure is over the limit.
        clock.Advance(TimeSpan.FromSeconds(59));
        limit.Count("10.0.0.1");
        Assert.True(limit.IsOver("10.0.0.1"));
        Assert.False(limit.IsOver("10.0.0.2"));

        // The window ends one minute after its first failure, and the next failure opens a new one.
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(limit.IsOver("10.0.0.1"));
        for (int i = 0; i < 3; i++) limit.Count("10.0.0.1");
        Assert.False(limit.IsOver("10.0.0.1"));
        limit.Count("10.0.0.1");
        Assert.True(limit.IsOver("10.0.0.1"));
    }

    [Fact]
    public void Ended_windows_are_forgotten_once_many_addresses_have_failed()
    {
        var clock = new HandClock();
        var limit = new FailedAuthentications(0, clock);
        for (int i = 0; i <= 10_000; i++) limit.Count($"10.{i / 65536}.{i / 256 % 256}.{i % 256}");
        Assert.True(limit.IsOver("10.0.0.0"));
        clock.Advance(TimeSpan.FromMinutes(1));
        limit.Count("192.0.2.1");
        Assert.False(limit.IsOver("10.0.0.0"));
        Assert.Equal(1, limit.Tracked);
    }
}
