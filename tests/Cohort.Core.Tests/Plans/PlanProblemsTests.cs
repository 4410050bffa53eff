using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Tests.Plans;

/// <summary>What one reading of a plan reports: every unknown key with the nearest allowed one, and a problem in each section.</summary>
public sealed class PlanProblemsTests
{
    private const string Source = "plan.yaml";

    /// <summary>Lines 1–5 of every test plan; extra lines start at line 6.</summary>
    private static readonly string[] Minimal = ["name: t", "app:", "  name: tabular", "strategy:", "  name: fedavg"];

    private static PlanException FailsMinimalWith(params string[] extra) =>
        Assert.Throws<PlanException>(() => PlanParser.Parse(string.Join("\n", [.. Minimal, .. extra]) + "\n", Source, StrategyRegistry.CreateDefault()));

    private static string[] Messages(PlanException e) => [.. e.Errors.Select(x => x.Message)];

    [Fact]
    public void An_unknown_nested_key_names_the_nearest_allowed_key()
    {
        var e = FailsMinimalWith("train:", "  learnig_rate: 0.1");

        Assert.Equal($"{Source}:7:3: unknown key 'learnig_rate' in train (allowed: local_epochs, local_steps, batch_size, optimizer, learning_rate, weight_decay, momentum, lr_schedule) (did you mean 'learning_rate'?)", e.Message);
    }

    [Fact]
    public void An_unknown_key_far_from_every_allowed_one_gets_no_hint()
    {
        var e = FailsMinimalWith("colour: blue");

        Assert.DoesNotContain("did you mean", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("central_evaluation)", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_single_problem_is_its_own_only_error()
    {
        var e = FailsMinimalWith("rounds: 0");

        Assert.Same(e, Assert.Single(e.Errors));
    }

    [Fact]
    public void Unknown_keys_in_several_sections_are_all_reported_in_file_order()
    {
        var e = FailsMinimalWith("round: 3", "train:", "  learnig_rate: 0.1", "selection:", "  min_fit: 2", "  min_fits: 2");

        Assert.Equal(new long[] { 6, 8, 11 }, e.Errors.Select(x => x.Line));
        Assert.Contains("'round' in plan", e.Errors[0].Problem, StringComparison.Ordinal);
        Assert.EndsWith("(did you mean 'rounds'?)", e.Errors[0].Problem, StringComparison.Ordinal);
        Assert.EndsWith("(did you mean 'learning_rate'?)", e.Errors[1].Problem, StringComparison.Ordinal);
        Assert.EndsWith("(did you mean 'min_fit'?)", e.Errors[2].Problem, StringComparison.Ordinal);
        Assert.Equal(e.Errors[0].Message, e.Message);
    }

    [Fact]
    public void Bad_values_in_several_sections_are_all_reported_and_the_message_is_the_one_the_parser_always_stopped_at()
    {
        // The parser has always read rounds before train: the message stays the rounds error, though train's line comes first.
        var e = FailsMinimalWith("train:", "  optimizer: adamw", "rounds: 0", "selection: { min_fit: 0 }", "round_timeout: soon");

        Assert.Equal($"{Source}:8:9: rounds: 0 is not allowed (must be >= 1)", e.Message);
        Assert.Equal(
            new[]
            {
                $"{Source}:7:14: train.optimizer: 'adamw' is not allowed (allowed: sgd, adam)",
                $"{Source}:8:9: rounds: 0 is not allowed (must be >= 1)",
                $"{Source}:9:23: selection.min_fit: 0 is not allowed (must be >= 1: a round needs at least one fit result)",
                $"{Source}:10:16: round_timeout: 'soon' is not a duration (use e.g. 90s, 5m, 1h, 250ms, 1h30m or a number of seconds)",
            },
            Messages(e));
    }

    [Fact]
    public void A_section_stops_at_its_first_bad_value_but_still_reports_its_unknown_keys()
    {
        // learning_rate's check of min_lr depends on it; the rest of train is not read once it is bad.
        var e = FailsMinimalWith("train:", "  learning_rate: -1", "  optimizer: adamw", "  epochs: 2");

        Assert.Equal(new long[] { 7, 9 }, e.Errors.Select(x => x.Line));
        Assert.StartsWith("train.learning_rate: -1 is not allowed", e.Errors[0].Problem, StringComparison.Ordinal);
        Assert.Contains("unknown key 'epochs' in train", e.Errors[1].Problem, StringComparison.Ordinal);
        // Unknown keys are found when the section is opened, before its values: as before, that is the message.
        Assert.Equal(e.Errors[1].Message, e.Message);
    }

    [Fact]
    public void Every_bad_strategy_parameter_is_reported()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse(
            "name: t\napp: { name: tabular }\nstrategy:\n  name: fedprox\n  params: { proximal_mu: -1, proximal_mus: 2 }\nround: 2\n", Source, StrategyRegistry.CreateDefault()));

        Assert.Equal(3, e.Errors.Count);
        Assert.Contains("params.proximal_mu is -1", e.Errors[0].Problem, StringComparison.Ordinal);
        Assert.Contains("has no parameter 'proximal_mus'", e.Errors[1].Problem, StringComparison.Ordinal);
        Assert.Contains("(did you mean 'proximal_mu'?)", e.Errors[1].Problem, StringComparison.Ordinal);
        Assert.Contains("unknown key 'round' in plan", e.Errors[2].Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_section_is_one_problem_and_the_others_are_still_read()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\nstrategy: { name: fedavq }\nrounds: 0\n", Source, StrategyRegistry.CreateDefault()));

        // rounds has always been read before app, so its error stays the message.
        Assert.Equal($"{Source}:3:9: rounds: 0 is not allowed (must be >= 1)", e.Message);
        Assert.Equal(3, e.Errors.Count);
        Assert.Single(e.Errors, x => x.Message == $"{Source}:1:1: missing required key 'app' in plan");
        Assert.Single(e.Errors, x => x.Problem.Contains("unknown strategy 'fedavq'", StringComparison.Ordinal) && x.Problem.Contains("(did you mean 'fedavg'?)", StringComparison.Ordinal));
    }

    [Fact]
    public void A_misspelt_required_key_is_named_in_the_missing_key_problem_too()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("nmae: t\napp: { name: tabular }\nstrategy: { nmae: fedavg }\n", Source, StrategyRegistry.CreateDefault()));

        Assert.Single(e.Errors, x => x.Problem == "missing required key 'name' in plan; is 'nmae' a misspelling of it?");
        Assert.Single(e.Errors, x => x.Problem.StartsWith("missing required key 'name' in strategy", StringComparison.Ordinal) && x.Problem.EndsWith("; is 'nmae' a misspelling of it?", StringComparison.Ordinal));
        Assert.Single(e.Errors, x => x.Problem.StartsWith("unknown key 'nmae' in plan", StringComparison.Ordinal));
    }

    [Fact]
    public void Checks_across_sections_wait_until_every_section_reads()
    {
        // krum cannot run asynchronously, but with an unknown key elsewhere only that key is reported, not a combination of half-read values.
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse(
            "name: t\napp: { name: tabular }\nstrategy: { name: krum }\nasynchronous: { buffer_size: 2 }\nseeds: 1\n", Source, StrategyRegistry.CreateDefault()));

        Assert.Contains("unknown key 'seeds' in plan", Assert.Single(e.Errors).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_combination_that_does_not_hold_is_reported_at_once()
    {
        // One plan, two refusals: krum cannot run asynchronously, and privacy does not run with asynchronous training.
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse(
            "name: t\napp: { name: tabular }\nstrategy: { name: krum }\nasynchronous: { buffer_size: 2 }\nprivacy: { clipping_norm: 1, noise_multiplier: 0.5 }\n",
            Source, StrategyRegistry.CreateDefault()));

        Assert.Equal(
            [
                $"{Source}:4:15: asynchronous: strategy 'krum' cannot run asynchronously (allowed: fedavg, fedprox); FedBuff's buffer does the aggregation",
                $"{Source}:5:10: privacy: not supported with asynchronous training yet (FedBuff's buffer aggregates outside the strategy)",
            ],
            Messages(e));
    }

    [Theory]
    [InlineData("krum", "byzantine: 1", 5, "more than 2f + 2, f = 1")]
    [InlineData("krum", "byzantine: 0", 3, "more than 2f + 2, f = 0")]
    [InlineData("bulyan", "byzantine: 2", 11, "at least 4f + 3, f = 2")]
    public void A_min_fit_below_what_the_robust_rule_needs_is_refused_at_min_fit(string strategy, string parameters, int needed, string rule)
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse(
            $"name: t\napp: {{ name: tabular }}\nstrategy: {{ name: {strategy}, params: {{ {parameters} }} }}\nselection: {{ min_available: 2, min_fit: 2 }}\n",
            Source, StrategyRegistry.CreateDefault()));

        Assert.Equal(
            $"{Source}:4:41: selection.min_fit: 2 is below the {needed} fit results strategy '{strategy}' needs a round ({rule}); set selection.min_fit to {needed} or more, or lower strategy.params",
            Assert.Single(e.Errors).Message);
        // At the bound the plan reads.
        PlanParser.Parse(
            $"name: t\napp: {{ name: tabular }}\nstrategy: {{ name: {strategy}, params: {{ {parameters} }} }}\nselection: {{ min_available: 2, min_fit: {needed} }}\n",
            Source, StrategyRegistry.CreateDefault());
    }

    [Fact]
    public void A_default_min_fit_below_the_need_names_the_default_at_the_strategy()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: { name: tabular }\nstrategy: { name: krum }\n", Source, StrategyRegistry.CreateDefault()));

        Assert.Equal($"{Source}:3:11: selection.min_fit: 1 (the default) is below the 3 fit results strategy 'krum' needs a round (more than 2f + 2, f = 0); set selection.min_fit to 3 or more, or lower strategy.params", e.Message);
    }

    [Theory]
    [InlineData("min_available: 3, min_fit: 1", "selection.min_available: 3")]
    [InlineData("min_available: 1, min_fit: 3", "selection.min_fit: 3")]
    public void A_minimum_above_the_named_nodes_is_refused(string minimums, string problem)
    {
        var e = FailsMinimalWith($"selection: {{ {minimums}, nodes: [a, b] }}");

        Assert.StartsWith(problem + " is more than the 2 nodes in selection.nodes; only those nodes take part", Assert.Single(e.Errors).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_site_policy_still_stops_at_its_first_unknown_key_with_the_hint()
    {
        var e = Assert.Throws<Cohort.Sites.SitePolicyException>(() => Cohort.Sites.SitePolicyParser.Parse("strategies: [fedavg]\nmax_round: 2\nmax_epoch: 3\n", "site.yaml"));

        Assert.StartsWith("site policy site.yaml:2:1: unknown key 'max_round' in site policy", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("(did you mean 'max_rounds'?)", e.Message, StringComparison.Ordinal);
    }
}
