using Cohort.Server.Security;

namespace Cohort.Integration.Tests.Security;

/// <summary>The per-address failure window opens at the address's first failure, not at a wall-clock minute; IPv6 callers share one per /64.</summary>
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
        for (int i = 0; i < 2; i++) limit.Count("10.0.0.1");
        Assert.False(limit.IsOver("10.0.0.1"));

        // 59 s later (past any wall-clock minute boundary in between) the third failure reaches the limit.
        clock.Advance(TimeSpan.FromSeconds(59));
        limit.Count("10.0.0.1");
        Assert.True(limit.IsOver("10.0.0.1"));
        Assert.False(limit.IsOver("10.0.0.2"));

        // The window ends one minute after its first failure, and the next failure opens a new one.
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(limit.IsOver("10.0.0.1"));
        for (int i = 0; i < 2; i++) limit.Count("10.0.0.1");
        Assert.False(limit.IsOver("10.0.0.1"));
        limit.Count("10.0.0.1");
        Assert.True(limit.IsOver("10.0.0.1"));
    }

    [Fact]
    public void Concurrent_attempts_reserve_at_most_the_limit_and_successes_give_their_count_back()
    {
        var limit = new FailedAuthentications(30, new HandClock());
        int reserved = 0;
        Parallel.For(0, 100, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (limit.TryReserve("10.0.0.1")) Interlocked.Increment(ref reserved);
        });
        Assert.Equal(30, reserved);
        Assert.True(limit.IsOver("10.0.0.1"));

        // A success gives its count back: the next attempt gets a slot, and its window is forgotten when all are back.
        limit.GiveBack("10.0.0.1");
        Assert.False(limit.IsOver("10.0.0.1"));
        Assert.True(limit.TryReserve("10.0.0.1"));
        Assert.False(limit.TryReserve("10.0.0.1"));
        Assert.True(limit.TryReserve("10.0.0.2"));
        limit.GiveBack("10.0.0.2");
        Assert.Equal(1, limit.Tracked);
    }

    [Theory]
    [InlineData("192.0.2.7", "192.0.2.7")]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:3::1", "2001:db8:1:3::/64")]
    [InlineData("fe80::1%2", "fe80::/64")]
    public void IPv6_callers_are_counted_per_64_and_IPv4_ones_per_address(string address, string key) =>
        Assert.Equal(key, FailedAuthentications.KeyOf(System.Net.IPAddress.Parse(address)));

    [Fact]
    public void Addresses_rotated_within_one_IPv6_64_share_one_limit()
    {
        var limit = new FailedAuthentications(3, new HandClock());
        for (int i = 1; i <= 3; i++) limit.Count(FailedAuthentications.KeyOf(System.Net.IPAddress.Parse($"2001:db8:0:7::{i:x}")));
        Assert.True(limit.IsOver(FailedAuthentications.KeyOf(System.Net.IPAddress.Parse("2001:db8:0:7:ffff::4"))));
        Assert.False(limit.IsOver(FailedAuthentications.KeyOf(System.Net.IPAddress.Parse("2001:db8:0:8::1"))));
        Assert.False(limit.IsOver(FailedAuthentications.KeyOf(System.Net.IPAddress.Parse("192.0.2.1"))));
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
