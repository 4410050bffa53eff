using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Tests.Plans;

public sealed class OfflineGraceTests
{
    private static Plan Parse(string failure) => PlanParser.Parse(
        $"name: t\napp: {{ name: tabular }}\nstrategy: {{ name: fedavg }}\n{failure}", "p.yaml", StrategyRegistry.CreateDefault());

    [Fact]
    public void Without_the_key_tasks_wait_for_the_round_timeout()
    {
        Assert.Null(Parse("").Failure.OfflineGrace);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("10s", 10)]
    [InlineData("2m", 120)]
    public void The_grace_is_a_duration(string value, double seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), Parse($"failure: {{ offline_grace: {value} }}\n").Failure.OfflineGrace);
    }

    [Theory]
    [InlineData("-1", "failure.offline_grace")]
    [InlineData("soon", "is not a duration")]
    public void A_bad_grace_is_refused_with_its_key(string value, string expected)
    {
        var e = Assert.Throws<PlanException>(() => Parse($"failure: {{ offline_grace: {value} }}\n"));
        Assert.Contains(expected, e.Message);
    }
}
