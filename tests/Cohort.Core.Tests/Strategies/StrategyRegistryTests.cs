using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

/// <summary>Every built-in strategy is reachable by name from a plan, with its parameters checked.</summary>
public sealed class StrategyRegistryTests
{
    [Theory]
    [InlineData("fedavg")]
    [InlineData("fedavgm")]
    [InlineData("fedprox")]
    [InlineData("fedadam")]
    [InlineData("fedyogi")]
    [InlineData("fedadagrad")]
    [InlineData("qfedavg")]
    [InlineData("scaffold")]
    [InlineData("fedmedian")]
    [InlineData("fedtrimmedavg")]
    [InlineData("krum")]
    [InlineData("bulyan")]
    public void Each_built_in_strategy_is_created_by_its_plan_name(string name)
    {
        var strategy = StrategyRegistry.CreateDefault().Create(name, Cohort.Records.Config.Empty, StrategyServices.None);
        Assert.Equal(name, strategy.Name);
    }

    [Fact]
    public void A_plan_names_a_strategy_and_its_parameters()
    {
        var plan = PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy:\n  name: fedadam\n  params:\n    server_learning_rate: 0.05\n    tau: 0.0001\n", "p.yaml", StrategyRegistry.CreateDefault());
        Assert.Equal("fedadam", plan.Strategy.Name);
        Assert.Equal(0.05, plan.Strategy.Parameters.GetDouble("server_learning_rate", 0));
    }

    [Fact]
    public void An_unknown_parameter_is_refused_at_its_line_with_the_allowed_keys()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy:\n  name: krum\n  params:\n    f: 2\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal(6, e.Line);
        Assert.Contains("allowed: byzantine, keep, memory_limit_mb", e.Message);
    }

    [Fact]
    public void A_parameter_value_out_of_range_is_refused_at_its_line()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy:\n  name: fedtrimmedavg\n  params:\n    beta: 0.7\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal(6, e.Line);
        Assert.Contains("params.beta is 0.7, must be a number in [0, 0.5)", e.Message);
    }
}
