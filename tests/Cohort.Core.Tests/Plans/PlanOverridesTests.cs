using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Tests.Plans;

public sealed class PlanOverridesTests
{
    private const string Yaml = "name: t\napp: { name: tabular }\nstrategy:\n  name: fedavg\nrounds: 3\n";

    private static (PlanOverrides Overrides, string Applied, PlanException Error) Fail(params string[] set)
    {
        var overrides = PlanOverrides.Parse(set);
        string applied = overrides.Apply(Yaml);
        var error = Assert.Throws<PlanException>(() => PlanParser.Parse(applied, "p.yaml", StrategyRegistry.CreateDefault()));
        return (overrides, applied, error);
    }

    [Theory]
    [InlineData("name: t\napp:\n\tname: tabular\n", "malformed YAML")]
    [InlineData("", "the plan is empty")]
    [InlineData("- a list\n", "expected a mapping of plan keys")]
    [InlineData("name: t\nname: u\n", "duplicate key 'name' in plan")]
    public void A_malformed_plan_with_a_set_fails_naming_its_file_as_without_one(string yaml, string problem)
    {
        var withSet = Assert.Throws<PlanException>(() => PlanOverrides.Parse(["rounds=2"]).Apply(yaml, "f10.yaml"));
        var without = Assert.Throws<PlanException>(() => PlanParser.Parse(yaml, "f10.yaml", StrategyRegistry.CreateDefault()));

        Assert.StartsWith("f10.yaml", withSet.Message, StringComparison.Ordinal);
        Assert.Contains(problem, withSet.Message, StringComparison.Ordinal);
        Assert.Equal(without.Message, withSet.Message);
    }

    [Fact]
    public void An_option_read_as_a_set_value_says_it_is_not_an_option_and_how_to_set_the_plan_value()
    {
        var e = Assert.Throws<PlanException>(() => PlanOverrides.Parse(["train.learning_rate=0.1", "--wait-for-nodes"]));

        Assert.Equal("'--wait-for-nodes' is not an option of this command, and not KEY.PATH=VALUE; a plan value is set as --set wait_for_nodes=VALUE", e.Problem);
    }

    [Fact]
    public void Each_of_several_errors_is_blamed_on_its_set_or_its_line_and_the_first_stays_the_message()
    {
        var overrides = PlanOverrides.Parse(["rounds=0"]);
        string original = Yaml + "train: { optimizer: adamw }\n";
        string applied = overrides.Apply(original);
        var error = Assert.Throws<PlanException>(() => PlanParser.Parse(applied, "p.yaml", StrategyRegistry.CreateDefault()));

        var blamed = overrides.Blame(error, original, applied);

        Assert.Equal("--set rounds=0: rounds: 0 is not allowed (must be >= 1)", blamed.Message);
        Assert.Equal(2, blamed.Errors.Count);
        Assert.Contains(blamed.Errors, e => e.Source == "--set rounds=0");
        Assert.Contains(blamed.Errors, e => e.Source == "p.yaml" && e.Problem.StartsWith("train.optimizer: 'adamw'", StringComparison.Ordinal));
    }

    [Fact]
    public void An_error_on_a_set_value_names_the_set_not_a_line_of_rewritten_text()
    {
        var (overrides, applied, error) = Fail("rounds=abc");
        var blamed = overrides.Blame(error, Yaml, applied);
        Assert.Equal("--set rounds=abc", blamed.Source);
        Assert.Equal(0, blamed.Line);
        Assert.Contains("not an integer", blamed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_nested_path_is_found_and_the_last_set_of_a_path_wins()
    {
        var (overrides, applied, error) = Fail("strategy.name=fedavg", "rounds=2", "strategy.name=fedfoo");
        Assert.Equal("--set strategy.name=fedfoo", overrides.Blame(error, Yaml, applied).Source);
    }

    [Fact]
    public void A_value_written_as_a_yaml_list_or_map_is_one_and_any_other_stays_text()
    {
        string applied = PlanOverrides.Parse(["app.settings.hidden=[256, 128]", "train.lr_schedule={ type: step, gamma: 0.5, step_size: 2 }", "name=a, b"]).Apply(Yaml);

        var plan = PlanParser.Parse(applied, "p.yaml", StrategyRegistry.CreateDefault());

        var written = PlanParser.Parse(Yaml.Replace("app: { name: tabular }", "app: { name: tabular, settings: { hidden: [256, 128] } }", StringComparison.Ordinal), "w.yaml", StrategyRegistry.CreateDefault());
        Assert.Equal(written.App.Settings["hidden"], plan.App.Settings["hidden"]);
        Assert.Equal("step", plan.Train.Schedule.Type);
        Assert.Equal(0.5, plan.Train.Schedule.Gamma);
        Assert.Equal("a, b", plan.Name);
        var bad = Assert.Throws<PlanException>(() => PlanOverrides.Parse(["app.settings.hidden=[256, [1]"]).Apply(Yaml));
        Assert.StartsWith("--set app.settings.hidden=[256, [1]: not a YAML list or map", bad.Message, StringComparison.Ordinal);
        // Values from a form (the dashboard's) are text whatever they look like.
        Assert.Equal("[pilot]", PlanParser.Parse(PlanText.WithValues(Yaml, [("name", "[pilot]")]), "p.yaml", StrategyRegistry.CreateDefault()).Name);
    }

    [Fact]
    public void An_error_elsewhere_in_the_plan_keeps_its_position()
    {
        var overrides = PlanOverrides.Parse(["rounds=4"]);
        string original = Yaml.Replace("fedavg", "fedfoo", StringComparison.Ordinal);
        string applied = overrides.Apply(original);
        var error = Assert.Throws<PlanException>(() => PlanParser.Parse(applied, "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Same(error, overrides.Blame(error, original, applied));
        Assert.Equal(error.Message, overrides.Blame(error.Message, "p.yaml", "p.yaml", original, applied));
    }

    [Fact]
    public void A_server_reported_error_is_blamed_on_its_set_too()
    {
        var (overrides, applied, error) = Fail("rounds=-2");
        Assert.Equal($"--set rounds=-2: {error.Problem}", overrides.Blame(error.Message, "p.yaml", "plans/p.yaml", Yaml, applied));
        Assert.Equal("other.yaml:5:8: rounds: bad", overrides.Blame("other.yaml:5:8: rounds: bad", "p.yaml", "plans/p.yaml", Yaml, applied));
    }

    [Theory]
    [InlineData("rounds")]
    [InlineData("=3")]
    [InlineData("train..lr=1")]
    public void A_malformed_item_is_refused_by_name(string item)
    {
        var error = Assert.Throws<PlanException>(() => PlanOverrides.Parse([item]));
        Assert.Equal("--set", error.Source);
        Assert.Contains($"'{item}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_sets_leave_the_text_as_it_was()
    {
        Assert.Same(Yaml, PlanOverrides.Parse(null).Apply(Yaml));
    }

    [Theory]
    [InlineData("rounds: \"3\"", "rounds: \"3\" is quoted, so it is text, not an integer (write 3 without quotes)")]
    [InlineData("rounds: three", "rounds: 'three' is not an integer")]
    public void A_quoted_number_is_explained(string line, string expected)
    {
        var error = Assert.Throws<PlanException>(() => PlanParser.Parse(Yaml.Replace("rounds: 3", line, StringComparison.Ordinal), "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal(expected, error.Problem);
    }
}
