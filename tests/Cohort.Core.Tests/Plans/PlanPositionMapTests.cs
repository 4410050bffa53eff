using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Tests.Plans;

/// <summary>An error in a plan read with <c>--set</c> values is placed at its line and column in the user's file, or on the <c>--set</c> that wrote it.</summary>
public sealed class PlanPositionMapTests
{
    // Comments and blank lines, which the text with --set values applied no longer has, push every line down.
    private const string Yaml = """
        # A plan with notes.

        name: t   # the run's name
        app:
          name: tabular

          # settings for the app
          settings: { label: y }
        strategy: { name: fedavg }
        rounds: 3
        selection: { nodes: [a, b, a] }

        train:
          # steps per round
          local_step: 100
          optimizer: adamw
        """;

    private static PlanException Placed(string yaml, params string[] set)
    {
        var overrides = PlanOverrides.Parse(set);
        string applied = overrides.Apply(yaml, "p.yaml");
        var error = Assert.Throws<PlanException>(() => PlanParser.Parse(applied, "p.yaml", StrategyRegistry.CreateDefault()));
        return overrides.Blame(error, yaml, applied);
    }

    [Fact]
    public void Errors_not_about_a_set_value_are_placed_at_their_line_and_column_in_the_file()
    {
        var e = Placed(Yaml, "rounds=4");

        Assert.Equal(3, e.Errors.Count);
        Assert.Contains(e.Errors, x => x.Message == "p.yaml:11:21: selection.nodes: 'a' is named twice");
        Assert.Contains(e.Errors, x => x.Message.StartsWith("p.yaml:15:3: unknown key 'local_step' in train", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.Message == "p.yaml:16:14: train.optimizer: 'adamw' is not allowed (allowed: sgd, adam)");
    }

    [Fact]
    public void Keys_added_by_a_set_nested_paths_and_flow_mappings_keep_the_other_places()
    {
        // A new section (simulation), a new key in a flow mapping (strategy.params), a replaced flow value and a nested path.
        var e = Placed(Yaml, "simulation.clients=2", "strategy.params.proximal_mu=0.1", "app.settings.label=z", "train.batch_size=8");

        Assert.Contains(e.Errors, x => x.Message == "p.yaml:11:21: selection.nodes: 'a' is named twice");
        Assert.Contains(e.Errors, x => x.Message.StartsWith("p.yaml:15:3: unknown key 'local_step' in train", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.Message == "p.yaml:16:14: train.optimizer: 'adamw' is not allowed (allowed: sgd, adam)");
        Assert.Contains(e.Errors, x => x.Source == "--set strategy.params.proximal_mu=0.1");
    }

    [Fact]
    public void An_error_in_a_key_or_a_map_a_set_wrote_is_blamed_on_that_set()
    {
        var e = Placed("name: t\napp: { name: tabular }\nstrategy: { name: fedavg }\n\n# rounds\nrounds: 3\n", "train.learnig_rate=1", "selection={ min_fit: 0 }");

        Assert.Equal(
            ["--set selection={ min_fit: 0 }", "--set train.learnig_rate=1"],
            e.Errors.Select(x => x.Source).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_servers_message_names_the_path_as_typed_and_the_places_in_the_file()
    {
        var overrides = PlanOverrides.Parse(["rounds=0"]);
        string applied = overrides.Apply(Yaml, "p.yaml");
        var error = Assert.Throws<PlanException>(() => PlanParser.Parse(applied, "p.yaml", StrategyRegistry.CreateDefault()));
        var optimizer = error.Errors.Single(x => x.Problem.StartsWith("train.optimizer", StringComparison.Ordinal));
        var rounds = error.Errors.Single(x => x.Problem.StartsWith("rounds", StringComparison.Ordinal));

        Assert.Equal($"plans/p.yaml:16:14: {optimizer.Problem}", overrides.Blame(optimizer.Message, "p.yaml", "plans/p.yaml", Yaml, applied));
        Assert.Equal($"--set rounds=0: {rounds.Problem}", overrides.Blame(rounds.Message, "p.yaml", "plans/p.yaml", Yaml, applied));
        // A preflight's message places problems after the nodes that found them.
        Assert.Equal("preflight failed: node a: plans/p.yaml:8:15: app setting 'label' is odd; the run was not queued",
            overrides.Blame($"preflight failed: node a: p.yaml:{Line(applied, "label")}: app setting 'label' is odd; the run was not queued", "p.yaml", "plans/p.yaml", Yaml, applied));
        Assert.Equal("plans/p.yaml: the plan is empty", PlanOverrides.Parse(null).Blame("p.yaml: the plan is empty", "p.yaml", "plans/p.yaml", Yaml, Yaml));
    }

    // LINE:COLUMN of the first occurrence of the key in the applied text.
    private static string Line(string text, string key)
    {
        var lines = text.Split('\n');
        int i = Array.FindIndex(lines, l => l.Contains(key + ":", StringComparison.Ordinal));
        return $"{i + 1}:{lines[i].IndexOf(key, StringComparison.Ordinal) + 1}";
    }
}
