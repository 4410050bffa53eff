using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Tests.Plans;

/// <summary>The plan keys <c>dataset</c> (top level or under <c>app</c>) and <c>preflight_timeout</c>.</summary>
public sealed class DatasetKeyTests
{
    private static Plan Parse(params string[] lines) =>
        PlanParser.Parse(string.Join("\n", lines) + "\n", "plan.yaml", StrategyRegistry.CreateDefault());

    [Fact]
    public void A_plan_names_its_data_set_at_the_top_or_under_app()
    {
        Assert.Equal("claims", Parse("name: t", "dataset: claims", "app: { name: tabular }", "strategy: { name: fedavg }").Dataset);
        Assert.Equal("claims", Parse("name: t", "app: { name: tabular, dataset: claims }", "strategy: { name: fedavg }").Dataset);
        Assert.Null(Parse("name: t", "app: { name: tabular }", "strategy: { name: fedavg }").Dataset);
    }

    [Fact]
    public void Two_different_data_sets_are_refused_at_the_app_key()
    {
        var e = Assert.Throws<PlanException>(() => Parse("name: t", "dataset: claims", "app: { name: tabular, dataset: fraud }", "strategy: { name: fedavg }"));

        Assert.Equal(3, e.Line);
        Assert.Contains("app.dataset: 'fraud' differs from the top-level dataset 'claims'", e.Message);
    }

    [Fact]
    public void A_data_set_name_follows_the_node_rule()
    {
        var e = Assert.Throws<PlanException>(() => Parse("name: t", "dataset: my claims", "app: { name: tabular }", "strategy: { name: fedavg }"));

        Assert.Equal("plan.yaml:2:10: dataset: 'my claims' is not a data set name (1-64 letters, digits, '-', '_' or '.')", e.Message);
    }

    [Fact]
    public void The_preflight_waits_thirty_seconds_unless_the_plan_says_otherwise()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), Parse("name: t", "app: { name: tabular }", "strategy: { name: fedavg }").PreflightTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), Parse("name: t", "preflight_timeout: 5s", "app: { name: tabular }", "strategy: { name: fedavg }").PreflightTimeout);
    }
}
