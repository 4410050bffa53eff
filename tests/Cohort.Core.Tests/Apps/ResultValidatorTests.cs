using Cohort.Apps;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Apps;

public sealed class ResultValidatorTests
{
    private static readonly ResultLimits Limits = new(MaxExamples: 1000, ExampleTolerance: 0.2);

    [Fact]
    public void Example_counts_are_capped_and_held_to_the_nodes_first_count_per_run_and_phase()
    {
        var validator = new ResultValidator();
        Assert.Null(validator.Check("run", "a", "fit", 100, null, Metrics.Empty, Limits));
        Assert.Null(validator.Check("run", "a", "fit", 119, null, Metrics.Empty, Limits));
        Assert.Contains("reported 100 earlier", validator.Check("run", "a", "fit", 121, null, Metrics.Empty, Limits));
        Assert.Null(validator.Check("run", "a", "evaluate", 20, 0.3, Metrics.Empty, Limits)); // its own scale
        Assert.Null(validator.Check("other-run", "a", "fit", 500, null, Metrics.Empty, Limits));
        Assert.Contains("exceed the plan's failure.max_examples 1000", validator.Check("run", "b", "fit", 1001, null, Metrics.Empty, Limits));
        Assert.Contains("-1 examples", validator.Check("run", "b", "fit", -1, null, Metrics.Empty, Limits));
    }

    [Theory]
    [InlineData("ok_name.v2:val-1", 1.0, null)]
    [InlineData("loss", double.NaN, "metric 'loss' is NaN")]
    [InlineData("loss", double.NegativeInfinity, "metric 'loss' is -Infinity")]
    [InlineData("a b", 1.0, "has character U+0020")]
    [InlineData("", 1.0, "metric name of 0 characters")]
    public void Metric_names_and_values_are_checked(string name, double value, string? reason)
    {
        var problem = ResultValidator.CheckMetrics(new Metrics([KeyValuePair.Create(name, Scalar.Of(value))]));
        if (reason is null) Assert.Null(problem);
        else Assert.Contains(reason, problem);
    }

    [Fact]
    public void A_non_finite_loss_is_refused()
    {
        Assert.Contains("loss is NaN", new ResultValidator().Check("r", "a", "evaluate", 5, double.NaN, Metrics.Empty, ResultLimits.Default));
    }

    [Fact]
    public void The_plan_failure_section_sets_the_limits()
    {
        var plan = PlanParser.Parse("name: t\napp: { name: tabular }\nstrategy: { name: fedavg }\nfailure: { max_examples: 5000, example_tolerance: 0.1 }\n", "p.yaml", StrategyRegistry.CreateDefault());
        Assert.Equal(new ResultLimits(5000, 0.1), plan.Failure.Limits);
        var defaults = PlanParser.Parse("name: t\napp: { name: tabular }\nstrategy: { name: fedavg }\n", "p.yaml", StrategyRegistry.CreateDefault());
        Assert.Equal(ResultLimits.Default, defaults.Failure.Limits);
    }
}
