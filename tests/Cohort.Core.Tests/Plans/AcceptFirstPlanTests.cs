using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Tests.Plans;

/// <summary><c>selection.accept_first</c>: over-selection, a round closed at its first K usable fit results.</summary>
public sealed class AcceptFirstPlanTests
{
    private static Plan Parse(string rest) => PlanParser.Parse(
        $"name: t\napp: {{ name: tabular }}\nstrategy: {{ name: fedavg }}\n{rest}", "p.yaml", StrategyRegistry.CreateDefault());

    [Fact]
    public void Without_the_key_a_round_waits_for_every_sampled_node()
    {
        Assert.Null(Parse("selection: { min_fit: 3 }\n").Selection.AcceptFirst);
    }

    [Fact]
    public void The_key_is_read_as_the_count_of_results_that_close_the_round()
    {
        Assert.Equal(3, Parse("selection: { min_available: 4, min_fit: 2, accept_first: 3 }\n").Selection.AcceptFirst);
    }

    [Theory]
    [InlineData("  min_fit: 3\n  accept_first: 2\n", "selection.accept_first: 2 is below selection.min_fit (3); a round closed that early would fall short of min_fit")]
    [InlineData("  nodes: [a, b]\n  accept_first: 3\n", "selection.accept_first: 3 is more than the 2 nodes in selection.nodes; it must not exceed the nodes a round samples")]
    [InlineData("  min_fit: 1\n  accept_first: 0\n", "selection.accept_first: 0 is not allowed (must be >= 1)")]
    public void A_count_outside_min_fit_and_the_sample_is_refused_at_its_line(string selection, string problem)
    {
        var e = Assert.Throws<PlanException>(() => Parse("selection:\n" + selection));

        Assert.Equal(problem, e.Problem);
        // name, app, strategy, selection, its first key: accept_first is on line 6.
        Assert.Equal(6, e.Line);
    }

    [Fact]
    public void Asynchronous_training_refuses_it()
    {
        var e = Assert.Throws<PlanException>(() => Parse("selection:\n  accept_first: 2\nasynchronous: { buffer_size: 2 }\n"));

        Assert.Equal("selection.accept_first: not with asynchronous (FedBuff aggregates every asynchronous.buffer_size arrivals and never waits for a round)", e.Problem);
        Assert.Equal(5, e.Line);
    }
}
