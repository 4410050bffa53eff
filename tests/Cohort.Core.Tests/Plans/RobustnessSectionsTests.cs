using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Tests.Plans;

/// <summary>The plan's failure, personalization and asynchronous sections.</summary>
public sealed class RobustnessSectionsTests
{
    private static Plan Parse(params string[] extra) =>
        PlanParser.Parse(string.Join("\n", ["name: t", "app: { name: tabular }", "strategy: { name: fedavg }", .. extra]) + "\n", "p.yaml", StrategyRegistry.CreateDefault());

    [Fact]
    public void Sections_default_to_synchronous_rounds_with_no_retries_and_nothing_local()
    {
        var plan = Parse();
        Assert.Equal(0, plan.Failure.MinCompletionRate);
        Assert.Equal(0, plan.Failure.Retries);
        Assert.False(plan.Personalization.Enabled);
        Assert.Null(plan.Asynchronous);
    }

    [Fact]
    public void Sections_are_read_into_the_plan()
    {
        var personal = Parse("personalization: { local: [head.*, bn.running_mean] }");
        Assert.True(personal.Personalization.IsLocal("head.weight"));
        Assert.True(personal.Personalization.IsLocal("bn.running_mean"));
        Assert.False(personal.Personalization.IsLocal("body.weight"));
        var plan = Parse(
            "failure: { min_completion_rate: 0.8, retries: 3 }",
            "asynchronous:",
            "  buffer_size: 5",
            "  concurrency: 8",
            "  server_learning_rate: 0.5",
            "  staleness: { type: hinge, a: 2, b: 3 }");
        Assert.Equal(new FailurePolicy { MinCompletionRate = 0.8, Retries = 3 }, plan.Failure);
        Assert.Equal(5, plan.Asynchronous!.BufferSize);
        Assert.Equal(8, plan.Asynchronous.Concurrency);
        Assert.Equal(0.5, plan.Asynchronous.ServerLearningRate);
        Assert.Equal(new Staleness { Type = "hinge", A = 2, B = 3 }, plan.Asynchronous.Staleness);
    }

    [Theory]
    [InlineData("constant", 0, 1.0)]
    [InlineData("constant", 9, 1.0)]
    [InlineData("polynomial", 0, 1.0)]
    [InlineData("polynomial", 3, 0.5)]   // (1 + 3)^−0.5
    [InlineData("hinge", 3, 1.0)]        // τ ≤ b
    [InlineData("hinge", 5, 1.0 / 5)]    // 1 / (2·(5 − 3) + 1)
    public void Staleness_functions_weigh_an_update_by_its_age(string type, int staleness, double weight) =>
        Assert.Equal(weight, new Staleness { Type = type, A = type == "hinge" ? 2 : 0.5, B = 3 }.Weight(staleness), 12);

    [Fact]
    public void An_unknown_staleness_type_is_refused_with_the_allowed_types_at_its_line()
    {
        var e = Assert.Throws<PlanException>(() => Parse("asynchronous:", "  staleness: { type: linear }"));
        Assert.Equal(5, e.Line);
        Assert.Contains("allowed: constant, polynomial, hinge", e.Message);
    }

    [Fact]
    public void Personalization_with_scaffold_is_refused()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: { name: tabular }\nstrategy: { name: scaffold }\npersonalization: { local: [a] }\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal(4, e.Line);
        Assert.Contains("scaffold", e.Message);
    }

    [Theory]
    [InlineData("output.*", "output.weight", true)]
    [InlineData("output.*", "hidden1.weight", false)]
    [InlineData("*.running_*", "bn1.running_var", true)]
    [InlineData("linear.bias", "linear.bias", true)]
    [InlineData("linear.bias", "linear.bias2", false)]
    public void Local_patterns_match_tensor_names(string pattern, string name, bool matches) =>
        Assert.Equal(matches, LocalParameterPattern.Matches(pattern, name));
}
