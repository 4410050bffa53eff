using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Plans;

public sealed class PlanParserTests
{
    private const string Source = "plan.yaml";

    /// <summary>Lines 1–5 of every test plan; extra lines start at line 6.</summary>
    private static readonly string[] Minimal = ["name: t", "app:", "  name: tabular", "strategy:", "  name: fedavg"];

    private static string Yaml(params string[] lines) => string.Join("\n", lines) + "\n";

    private static Plan Parse(string yaml, StrategyRegistry? strategies = null) =>
        PlanParser.Parse(yaml, Source, strategies ?? StrategyRegistry.CreateDefault());

    private static Plan ParseMinimalWith(params string[] extra) => Parse(Yaml([.. Minimal, .. extra]));

    private static PlanException Fails(string yaml, StrategyRegistry? strategies = null) =>
        Assert.Throws<PlanException>(() => Parse(yaml, strategies));

    private static PlanException FailsMinimalWith(params string[] extra) => Fails(Yaml([.. Minimal, .. extra]));

    private static void AssertAt(PlanException e, long line, long column)
    {
        Assert.Equal(Source, e.Source);
        Assert.Equal((line, column), (e.Line, e.Column));
        Assert.StartsWith($"{Source}:{line}:{column}: ", e.Message);
    }

    private static string ExamplePath => RepositoryPaths.Combine("examples", "heart-disease", "plan.yaml");

    // ---- the example plan ----

    [Fact]
    public void Example_plan_parses_into_the_expected_values()
    {
        var plan = PlanParser.ParseFile(ExamplePath, StrategyRegistry.CreateDefault());

        Assert.Equal("heart-disease", plan.Name);
        Assert.Equal("flamby-heart-disease", plan.Experiment);
        Assert.Equal(["flamby", "tabular"], plan.Tags);
        Assert.Equal("tabular", plan.App.Name);
        Assert.Equal("fedavg", plan.Strategy.Name);
        Assert.Empty(plan.Strategy.Parameters);
        Assert.Equal(15, plan.Rounds);
        Assert.Equal(new Selection(MinAvailable: 4, MinFit: 4, MinEvaluate: 4, FractionFit: 1.0, FractionEvaluate: 1.0), plan.Selection);
        Assert.Equal(TimeSpan.FromSeconds(60), plan.RoundTimeout);
        Assert.Equal(TimeSpan.FromMinutes(5), plan.WaitForNodes);
        Assert.Null(plan.Train.LocalEpochs);
        Assert.Equal(100, plan.Train.LocalSteps);
        Assert.Equal(4, plan.Train.BatchSize);
        Assert.Equal("sgd", plan.Train.Optimizer);
        Assert.Equal(0.002, plan.Train.LearningRate);
        Assert.Equal(0.0, plan.Train.WeightDecay);
        Assert.Equal("constant", plan.Train.Schedule.Type);
        Assert.Equal(15, plan.Train.Schedule.TotalRounds);
        Assert.Equal(42, plan.Seed);
        Assert.Empty(plan.RoundConfig);
        Assert.Equal(File.ReadAllText(ExamplePath), plan.SourceText);
    }

    [Fact]
    public void Example_plan_app_settings_are_flattened_with_dotted_keys_and_comma_joined_lists()
    {
        var settings = PlanParser.ParseFile(ExamplePath, StrategyRegistry.CreateDefault()).App.Settings;

        Assert.Equal(Scalar.Of("uci"), settings["format"]);
        Assert.Equal(Scalar.Of("age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,slope,ca,thal,num"), settings["columns"]);
        Assert.Equal(Scalar.Of("num"), settings["label"]);
        Assert.Equal(Scalar.Of("> 0"), settings["positive"]);
        Assert.Equal(Scalar.Of("slope,ca,thal"), settings["drop"]);
        Assert.Equal(Scalar.Of("1,2,3,4"), settings["categorical.cp"]);
        Assert.Equal(Scalar.Of("0,1,2"), settings["categorical.restecg"]);
        Assert.Equal(Scalar.Of(true), settings["drop_first"]);
        Assert.Equal(Scalar.Of("drop"), settings["missing"]);
        Assert.Equal(Scalar.Of(true), settings["standardize"]);
        Assert.Equal(Scalar.Of(0.66), settings["train_fraction"]);
        Assert.Equal(Scalar.Of(43L), settings["split_seed"]);
        Assert.Equal(Scalar.Of(true), settings["stratify"]);
        Assert.Equal(Scalar.Of("logistic"), settings["model"]);
        Assert.Equal(14, settings.Count);
    }

    [Fact]
    public void Example_plan_fit_config_carries_training_settings_and_no_epochs()
    {
        var fit = PlanParser.ParseFile(ExamplePath, StrategyRegistry.CreateDefault()).FitConfig(3);

        Assert.Equal(3, fit.GetInt("round", 0));
        Assert.Equal(15, fit.GetInt("rounds", 0));
        Assert.Equal(100, fit.GetInt("local_steps", 0));
        Assert.False(fit.ContainsKey("local_epochs"));
        Assert.Equal(0.002, fit.GetDouble("learning_rate", 0));
    }

    [Fact]
    public void Full_example_in_the_plan_reference_parses()
    {
        string doc = File.ReadAllText(RepositoryPaths.Combine("docs", "plan.md"));
        int section = doc.IndexOf("## Full example", StringComparison.Ordinal);
        int start = doc.IndexOf("```yaml\n", section, StringComparison.Ordinal) + "```yaml\n".Length;
        string yaml = doc[start..doc.IndexOf("```", start, StringComparison.Ordinal)];

        var plan = PlanParser.Parse(yaml, "docs/plan.md", StrategyRegistry.CreateDefault());

        Assert.Equal(Scalar.Of("1,2,3,4"), plan.App.Settings["categorical.cp"]);
        Assert.Equal("cosine", plan.Train.Schedule.Type);
        Assert.Equal(0.001, plan.FitConfig(15).GetDouble("learning_rate", 0), 12);
        Assert.Equal(0.5, plan.FitConfig(1).GetDouble("eval_threshold", 0));
    }

    // ---- defaults and typing ----

    [Fact]
    public void Minimal_plan_gets_the_documented_defaults()
    {
        var plan = ParseMinimalWith();

        Assert.Equal("t", plan.Experiment);
        Assert.Empty(plan.Tags);
        Assert.Empty(plan.App.Settings);
        Assert.Equal(1, plan.Rounds);
        Assert.Equal(new Selection(), plan.Selection);
        Assert.Equal(TimeSpan.FromMinutes(5), plan.RoundTimeout);
        Assert.Equal(TimeSpan.FromMinutes(5), plan.WaitForNodes);
        Assert.Equal(1, plan.Train.LocalEpochs);
        Assert.Null(plan.Train.LocalSteps);
        Assert.Equal(32, plan.Train.BatchSize);
        Assert.Equal("sgd", plan.Train.Optimizer);
        Assert.Equal(0.01, plan.Train.LearningRate);
        Assert.Equal(new LearningRateSchedule(), plan.Train.Schedule);
        Assert.Equal(42, plan.Seed);
        Assert.Empty(plan.RoundConfig);
    }

    [Theory]
    [InlineData("true", ScalarKind.Bool, "true")]
    [InlineData("False", ScalarKind.Bool, "false")]
    [InlineData("42", ScalarKind.Int, "42")]
    [InlineData("-7", ScalarKind.Int, "-7")]
    [InlineData("0.66", ScalarKind.Double, "0.66")]
    [InlineData("1e-3", ScalarKind.Double, "0.001")]
    [InlineData("2.", ScalarKind.Double, "2")]
    [InlineData("'42'", ScalarKind.String, "42")]
    [InlineData("\"true\"", ScalarKind.String, "true")]
    [InlineData("yes", ScalarKind.String, "yes")]
    [InlineData("1.2.3", ScalarKind.String, "1.2.3")]
    [InlineData("a b c", ScalarKind.String, "a b c")]
    public void Config_values_are_typed_like_yaml_plain_scalars_and_quoted_values_stay_strings(string written, ScalarKind kind, string text)
    {
        var value = ParseMinimalWith("config:", $"  v: {written}").RoundConfig["v"];

        Assert.Equal(kind, value.Kind);
        Assert.Equal(text, value.ToString());
    }

    [Fact]
    public void Round_config_entries_reach_fit_and_evaluate_configs()
    {
        var plan = ParseMinimalWith("config:", "  proximal_mu: 0.1", "  tag: baseline");

        Assert.Equal(0.1, plan.FitConfig(1).GetDouble("proximal_mu", 0));
        Assert.Equal("baseline", plan.EvaluateConfig(1).GetString("tag", ""));
    }

    [Fact]
    public void Deeply_nested_settings_flatten_to_dotted_keys()
    {
        var plan = Parse(Yaml(
            "name: t",
            "app:",
            "  name: tabular",
            "  settings:",
            "    model:",
            "      mlp: {hidden: [16, 8], activation: relu}",
            "    columns: []",
            "strategy: {name: fedavg}"));

        Assert.Equal(Scalar.Of("16,8"), plan.App.Settings["model.mlp.hidden"]);
        Assert.Equal(Scalar.Of("relu"), plan.App.Settings["model.mlp.activation"]);
        Assert.Equal(Scalar.Of(""), plan.App.Settings["columns"]);
    }

    [Fact]
    public void Strategy_params_are_typed_into_the_strategy_config()
    {
        var registry = StrategyRegistry.CreateDefault();
        registry.Register(new StrategyDescriptor("typed", "test", StrategyCapabilities.SumBased,
            [StrategyParameter.Number("mu", 0, "test"), StrategyParameter.Integer("server_lr", 1, "test", min: 0), StrategyParameter.Bool("momentum_on", true, "test")],
            (_, services) => new FedAvg(services)), "test");
        var plan = Parse(Yaml("name: t", "app:", "  name: tabular", "strategy:", "  name: typed", "  params:", "    mu: 0.01", "    server_lr: 1", "    momentum_on: false"), registry);

        Assert.Equal(Scalar.Of(0.01), plan.Strategy.Parameters["mu"]);
        Assert.Equal(Scalar.Of(1L), plan.Strategy.Parameters["server_lr"]);
        Assert.Equal(Scalar.Of(false), plan.Strategy.Parameters["momentum_on"]);
    }

    [Fact]
    public void Strategy_names_match_the_registry_ignoring_case()
    {
        var plan = Parse(Yaml("name: t", "app: {name: tabular}", "strategy: {name: FedAvg}"));

        Assert.Equal("FedAvg", plan.Strategy.Name);
    }

    // ---- durations ----

    [Theory]
    [InlineData("90s", 90_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("250ms", 250)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("90", 90_000)]
    [InlineData("2.5", 2_500)]
    public void Durations_accept_units_and_plain_seconds(string written, long milliseconds)
    {
        var plan = ParseMinimalWith($"round_timeout: {written}", $"wait_for_nodes: {written}");

        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), plan.RoundTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), plan.WaitForNodes);
    }

    [Fact]
    public void Duration_that_is_not_a_duration_is_reported_with_the_accepted_forms()
    {
        var e = FailsMinimalWith("round_timeout: 5 minutes");

        AssertAt(e, 6, 16);
        Assert.Equal("round_timeout: '5 minutes' is not a duration (use e.g. 90s, 5m, 1h, 250ms, 1h30m or a number of seconds)", e.Problem);
    }

    // 1440h passed the plan check and then failed the run: .NET timers wait at most 2^32 - 2 ms (49.7 days).
    [Theory]
    [InlineData("round_timeout: 1440h", 6, 16, "round_timeout: 1440h")]
    [InlineData("wait_for_nodes: 1193h", 6, 17, "wait_for_nodes: 1193h")]
    [InlineData("preflight_timeout: 4320000", 6, 20, "preflight_timeout: 4320000")]
    [InlineData("failure: { offline_grace: 1200h }", 6, 27, "failure.offline_grace: 1200h")]
    public void A_duration_longer_than_the_servers_timers_wait_is_refused_at_its_key(string line, long row, long column, string expected)
    {
        var e = FailsMinimalWith(line);

        AssertAt(e, row, column);
        Assert.Equal($"{expected} is too long (at most 49 days, the longest the server's timers wait)", e.Problem);
    }

    [Fact]
    public void Every_duration_key_takes_49_days_which_the_servers_timers_can_wait()
    {
        var plan = ParseMinimalWith("round_timeout: 1176h", "wait_for_nodes: 1176h", "preflight_timeout: 4233600", "failure: { offline_grace: 1176h }");

        Assert.Equal(TimeSpan.FromDays(49), plan.RoundTimeout);
        Assert.Equal(TimeSpan.FromDays(49), plan.WaitForNodes);
        Assert.Equal(TimeSpan.FromDays(49), plan.PreflightTimeout);
        Assert.Equal(TimeSpan.FromDays(49), plan.Failure.OfflineGrace);
        // What the run does with one: a timer's delay.
        using var timer = new CancellationTokenSource(plan.RoundTimeout);
    }

    [Fact]
    public void Round_timeout_must_be_positive_but_wait_for_nodes_may_be_zero()
    {
        Assert.Equal(TimeSpan.Zero, ParseMinimalWith("wait_for_nodes: 0s").WaitForNodes);

        var e = FailsMinimalWith("round_timeout: 0s");
        AssertAt(e, 6, 16);
        Assert.Equal("round_timeout: 0s is not allowed (must be > 0)", e.Problem);
    }

    // ---- train ----

    [Fact]
    public void Local_steps_alone_clear_the_default_local_epochs()
    {
        var train = ParseMinimalWith("train:", "  local_steps: 50").Train;

        Assert.Equal(50, train.LocalSteps);
        Assert.Null(train.LocalEpochs);
    }

    [Fact]
    public void Local_steps_and_epochs_given_together_are_both_kept()
    {
        var train = ParseMinimalWith("train:", "  local_steps: 50", "  local_epochs: 2").Train;

        Assert.Equal(50, train.LocalSteps);
        Assert.Equal(2, train.LocalEpochs);
    }

    [Fact]
    public void Train_values_are_read()
    {
        var train = ParseMinimalWith(
            "train:", "  local_epochs: 3", "  batch_size: 64", "  optimizer: Adam", "  learning_rate: 1e-3",
            "  weight_decay: 0.0001", "  momentum: 0.9").Train;

        Assert.Equal(3, train.LocalEpochs);
        Assert.Equal(64, train.BatchSize);
        Assert.Equal("adam", train.Optimizer);
        Assert.Equal(0.001, train.LearningRate);
        Assert.Equal(0.0001, train.WeightDecay);
        Assert.Equal(0.9, train.Momentum);
    }

    [Fact]
    public void Optimizer_outside_the_allowed_list_is_reported_with_position_and_allowed_values()
    {
        var e = FailsMinimalWith("train:", "  optimizer: adamw");

        AssertAt(e, 7, 14);
        Assert.Equal("train.optimizer: 'adamw' is not allowed (allowed: sgd, adam)", e.Problem);
    }

    [Theory]
    [InlineData("learning_rate: 0", "train.learning_rate: 0 is not allowed (must be > 0)")]
    [InlineData("weight_decay: -0.1", "train.weight_decay: -0.1 is not allowed (must be >= 0)")]
    [InlineData("momentum: 1", "train.momentum: 1 is not allowed (must be >= 0 and < 1)")]
    [InlineData("batch_size: 0", "train.batch_size: 0 is not allowed (must be >= 1)")]
    [InlineData("local_epochs: 1.5", "train.local_epochs: 1.5 is not an integer")]
    [InlineData("local_epochs: 1e3", "train.local_epochs: 1000 is written as a decimal number (with a point or an exponent), not an integer; write it as digits alone (1000)")]
    [InlineData("local_epochs: 2.0", "train.local_epochs: 2 is written as a decimal number (with a point or an exponent), not an integer; write it as digits alone (2)")]
    [InlineData("learning_rate: fast", "train.learning_rate: 'fast' is not a number")]
    public void Train_values_out_of_range_name_the_key_and_the_rule(string line, string problem)
    {
        var e = FailsMinimalWith("train:", "  " + line);

        Assert.Equal(7, e.Line);
        Assert.Equal(problem, e.Problem);
    }

    // ---- learning-rate schedules ----

    [Fact]
    public void Selection_nodes_limit_the_run_to_the_named_nodes_in_their_available_order()
    {
        var plan = ParseMinimalWith("selection:", "  nodes: [hungarian, cleveland]");

        Assert.Equal(["hungarian", "cleveland"], plan.Selection.Nodes);
        Assert.Equal(["cleveland", "hungarian"], plan.Selection.Allowed(["cleveland", "e1", "hungarian", "va"]));
        Assert.Equal(["a", "b"], ParseMinimalWith().Selection.Allowed(["a", "b"]));
    }

    private static Plan WithSchedule(params string[] schedule) =>
        ParseMinimalWith(["rounds: 5", "train:", "  learning_rate: 0.1", "  lr_schedule:", .. schedule.Select(l => "    " + l)]);

    [Theory]
    [InlineData(1, 0.1)]
    [InlineData(2, 0.1)]
    [InlineData(3, 0.05)]
    [InlineData(4, 0.05)]
    [InlineData(5, 0.025)]
    public void Step_schedule_multiplies_by_gamma_every_step_size_rounds(int round, double expected)
    {
        var plan = WithSchedule("type: step", "gamma: 0.5", "step_size: 2");

        Assert.Equal(expected, plan.FitConfig(round).GetDouble("learning_rate", 0), 12);
    }

    [Theory]
    [InlineData(1, 0.1)]
    [InlineData(2, 0.09)]
    [InlineData(3, 0.081)]
    public void Exponential_schedule_multiplies_by_gamma_each_round(int round, double expected)
    {
        var plan = WithSchedule("type: exponential", "gamma: 0.9");

        Assert.Equal(expected, plan.FitConfig(round).GetDouble("learning_rate", 0), 12);
    }

    [Theory]
    [InlineData(1, 0.1)]
    [InlineData(3, 0.055)]
    [InlineData(5, 0.01)]
    public void Cosine_schedule_falls_from_the_base_rate_to_min_lr_over_the_plan_rounds(int round, double expected)
    {
        var plan = WithSchedule("type: cosine", "min_lr: 0.01");

        Assert.Equal(5, plan.Train.Schedule.TotalRounds);
        Assert.Equal(expected, plan.FitConfig(round).GetDouble("learning_rate", 0), 12);
    }

    [Fact]
    public void Schedule_type_outside_the_allowed_list_is_reported_with_allowed_values()
    {
        var e = Assert.Throws<PlanException>(() => WithSchedule("type: linear"));

        AssertAt(e, 10, 11);
        Assert.Equal("train.lr_schedule.type: 'linear' is not allowed (allowed: constant, step, exponential, cosine)", e.Problem);
    }

    [Fact]
    public void Schedule_key_the_type_does_not_use_is_reported()
    {
        var e = Assert.Throws<PlanException>(() => WithSchedule("type: cosine", "gamma: 0.5"));

        AssertAt(e, 11, 5);
        Assert.Equal("train.lr_schedule.gamma: not used by type 'cosine' (cosine uses min_lr)", e.Problem);
    }

    [Fact]
    public void Step_schedule_without_gamma_is_reported_at_the_schedule()
    {
        var e = Assert.Throws<PlanException>(() => WithSchedule("type: step", "step_size: 2"));

        AssertAt(e, 10, 5);
        Assert.Equal("missing required key 'gamma' in train.lr_schedule (type 'step' needs it)", e.Problem);
    }

    [Fact]
    public void Cosine_min_lr_above_the_learning_rate_is_reported()
    {
        var e = Assert.Throws<PlanException>(() => WithSchedule("type: cosine", "min_lr: 0.5"));

        AssertAt(e, 11, 13);
        Assert.Equal("train.lr_schedule.min_lr: 0.5 is not allowed (must be <= train.learning_rate, 0.1)", e.Problem);
    }

    // ---- selection ----

    [Fact]
    public void Selection_min_fit_may_exceed_min_available()
    {
        var s = ParseMinimalWith("selection:", "  min_available: 2", "  min_fit: 3", "  fraction_fit: 0.5").Selection;

        Assert.Equal(new Selection(MinAvailable: 2, MinFit: 3, MinEvaluate: 1, FractionFit: 0.5, FractionEvaluate: 1.0), s);
    }

    [Fact]
    public void Zero_fraction_evaluate_skips_evaluation_and_allows_zero_min_evaluate()
    {
        var s = ParseMinimalWith("selection:", "  fraction_evaluate: 0").Selection;

        Assert.Equal(0, s.FractionEvaluate);
        Assert.Equal(0, s.MinEvaluate);
    }

    [Theory]
    [InlineData("fraction_fit: 0", "selection.fraction_fit: 0 is not allowed (must be > 0 and <= 1)")]
    [InlineData("fraction_evaluate: 1.5", "selection.fraction_evaluate: 1.5 is not allowed (must be between 0 and 1)")]
    [InlineData("min_available: -1", "selection.min_available: -1 is not allowed (must be >= 0)")]
    [InlineData("min_fit: 0", "selection.min_fit: 0 is not allowed (must be >= 1: a round needs at least one fit result)")]
    [InlineData("min_fit: -1", "selection.min_fit: -1 is not allowed (must be >= 1: a round needs at least one fit result)")]
    [InlineData("min_evaluate: 0", "selection.min_evaluate: 0 is not allowed while selection.fraction_evaluate is > 0 (must be >= 1, or set fraction_evaluate: 0 to skip evaluation)")]
    [InlineData("min_evaluate: -1", "selection.min_evaluate: -1 is not allowed while selection.fraction_evaluate is > 0 (must be >= 1, or set fraction_evaluate: 0 to skip evaluation)")]
    public void Selection_values_out_of_range_name_the_key_and_the_rule(string line, string problem)
    {
        var e = FailsMinimalWith("selection:", "  " + line);

        Assert.Equal(7, e.Line);
        Assert.Equal(line.IndexOf(':') + 5, e.Column);
        Assert.Equal(problem, e.Problem);
    }

    // ---- structural errors ----

    [Fact]
    public void Unknown_top_level_key_is_reported_with_line_allowed_keys_and_the_nearest_one()
    {
        var e = FailsMinimalWith("round: 10");

        AssertAt(e, 6, 1);
        Assert.Equal(
            "unknown key 'round' in plan (allowed: name, experiment, tags, app, strategy, rounds, selection, round_timeout, wait_for_nodes, train, seed, config, failure, personalization, asynchronous, simulation, privacy, dataset, preflight_timeout, central_evaluation) (did you mean 'rounds'?)",
            e.Problem);
        Assert.Equal($"{Source}:6:1: {e.Problem}", e.Message);
    }

    [Fact]
    public void Unknown_nested_key_names_its_section_and_allowed_keys()
    {
        var e = FailsMinimalWith("train:", "  epochs: 3");

        AssertAt(e, 7, 3);
        Assert.Equal("unknown key 'epochs' in train (allowed: local_epochs, local_steps, batch_size, optimizer, learning_rate, weight_decay, momentum, lr_schedule)", e.Problem);
    }

    [Fact]
    public void Rounds_that_is_not_an_integer_is_reported_at_the_value()
    {
        var e = FailsMinimalWith("rounds: ten");

        AssertAt(e, 6, 9);
        Assert.Equal("rounds: 'ten' is not an integer", e.Problem);
    }

    [Fact]
    public void Zero_rounds_is_rejected()
    {
        var e = FailsMinimalWith("rounds: 0");

        AssertAt(e, 6, 9);
        Assert.Equal("rounds: 0 is not allowed (must be >= 1)", e.Problem);
    }

    [Fact]
    public void Unknown_strategy_is_reported_with_the_registered_names()
    {
        var e = Fails(Yaml("name: t", "app:", "  name: tabular", "strategy:", "  name: fedsgd"));

        AssertAt(e, 5, 9);
        Assert.Equal("strategy.name: unknown strategy 'fedsgd' (allowed: bulyan, fedadagrad, fedadam, fedavg, fedavgm, fedmedian, fedprox, fedtrimmedavg, fedyogi, krum, qfedavg, scaffold)", e.Problem);
    }

    [Fact]
    public void Unknown_strategy_parameter_is_rejected_naming_what_the_strategy_takes()
    {
        var registry = StrategyRegistry.CreateDefault();
        registry.Register(new StrategyDescriptor("mine", "test", StrategyCapabilities.SumBased,
            [StrategyParameter.Number("mu", 0, "test"), StrategyParameter.Number("fraction", 0, "test")], (_, services) => new FedAvg(services)), "test");

        var e = Fails(Yaml("name: t", "app:", "  name: tabular", "strategy:", "  name: mine", "  params:", "    mu: 0.01", "    mux: 1"), registry);

        AssertAt(e, 8, 5);
        Assert.Equal("strategy 'mine' has no parameter 'mux' (it takes: mu, fraction) (did you mean 'mu'?)", e.Problem);
    }

    [Fact]
    public void Strategy_parameter_must_be_a_single_value()
    {
        var e = FailsMinimalWith("  params:", "    mu: [1, 2]");

        AssertAt(e, 7, 9);
        Assert.Equal("strategy.params.mu: expected a single value (bool, number or text), got a list", e.Problem);
    }

    [Fact]
    public void Missing_required_key_is_reported_at_the_parent_mapping()
    {
        var e = Fails(Yaml("name: t", "app:", "  settings: {a: 1}", "strategy:", "  name: fedavg"));

        AssertAt(e, 3, 3);
        Assert.Equal("missing required key 'name' in app", e.Problem);
    }

    [Theory]
    [InlineData("name")]
    [InlineData("app")]
    [InlineData("strategy")]
    public void Missing_required_top_level_key_is_reported_at_the_start_of_the_plan(string key)
    {
        var lines = new Dictionary<string, string> { ["name"] = "name: t", ["app"] = "app: {name: tabular}", ["strategy"] = "strategy: {name: fedavg}" };
        var e = Fails(Yaml(["seed: 1", .. lines.Where(kv => kv.Key != key).Select(kv => kv.Value)]));

        AssertAt(e, 1, 1);
        Assert.Equal($"missing required key '{key}' in plan", e.Problem);
    }

    [Fact]
    public void Duplicate_top_level_key_is_reported_at_the_second_occurrence()
    {
        var e = FailsMinimalWith("seed: 1", "name: u");

        AssertAt(e, 7, 1);
        Assert.Equal("duplicate key 'name' in plan, first given at line 1", e.Problem);
    }

    [Fact]
    public void Duplicate_nested_key_names_its_section()
    {
        var e = FailsMinimalWith("selection:", "  min_fit: 1", "  min_fit: 2");

        AssertAt(e, 8, 3);
        Assert.Equal("duplicate key 'min_fit' in selection, first given at line 7", e.Problem);
    }

    [Fact]
    public void Duplicate_key_deep_in_app_settings_names_the_settings_path()
    {
        var e = Fails(Yaml("name: t", "app:", "  name: tabular", "  settings:", "    categorical:", "      cp: [1]", "      cp: [2]", "strategy: {name: fedavg}"));

        AssertAt(e, 7, 7);
        Assert.Equal("duplicate key 'cp' in app.settings.categorical, first given at line 6", e.Problem);
    }

    [Fact]
    public void A_duplicate_key_does_not_hide_the_plans_other_problems()
    {
        var e = Fails(Yaml("name: t", "rounds: 2", "app: {name: tabular}", "strategy: {name: fedavg}", "rounds: [1]", "selection:", "  min_fit: 1", "  min_fit: {a: 1}", "  mn_available: 2"));

        Assert.Equal([5, 8, 9], e.Errors.Select(x => (int)x.Line));
        Assert.Equal("duplicate key 'rounds' in plan, first given at line 2", e.Errors[0].Problem);
        Assert.Equal("duplicate key 'min_fit' in selection, first given at line 7", e.Errors[1].Problem);
        Assert.StartsWith("unknown key 'mn_available' in selection", e.Errors[2].Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("---\n")]
    public void Empty_plan_is_an_error(string yaml)
    {
        var e = Fails(yaml);

        Assert.Equal(Source, e.Source);
        Assert.StartsWith("the plan is empty", e.Problem);
    }

    [Theory]
    [InlineData("- name: t\n", "a list")]
    [InlineData("just text\n", "a value")]
    public void Plan_that_is_not_a_mapping_is_an_error(string yaml, string got)
    {
        var e = Fails(yaml);

        AssertAt(e, 1, 1);
        Assert.Equal($"plan: expected a mapping of plan keys, got {got}", e.Problem);
    }

    [Fact]
    public void Plan_with_two_documents_is_an_error()
    {
        var e = Fails(Yaml([.. Minimal, "---", "name: u"]));

        AssertAt(e, 7, 1);
        Assert.Equal("a plan is one YAML document, found 2", e.Problem);
    }

    [Fact]
    public void Unclosed_flow_list_is_reported_at_its_bracket_with_the_file_name()
    {
        var e = FailsMinimalWith("tags: [a, b", "seed: 1");

        AssertAt(e, 6, 7);
        Assert.Equal("malformed YAML: this '[' is never closed", e.Problem);
    }

    [Theory]
    [InlineData("tags: [a, b")]
    [InlineData("tags: {a: b")]
    [InlineData("train:\n  batch_size: 4\n optimizer: sgd")]
    [InlineData("name2: \"abc")]
    [InlineData("train:\n\tbatch_size: 4")]
    public void Malformed_yaml_is_a_plan_error_naming_the_file(string tail)
    {
        var e = Fails(Yaml([.. Minimal, tail]));

        Assert.Equal(Source, e.Source);
        Assert.StartsWith($"{Source}:", e.Message);
        Assert.StartsWith("malformed YAML", e.Problem);
    }

    [Fact]
    public void Section_that_is_not_a_mapping_is_reported()
    {
        var e = FailsMinimalWith("train: [1, 2]");

        AssertAt(e, 6, 8);
        Assert.Equal("train: expected a mapping of keys, got a list", e.Problem);
    }

    [Fact]
    public void Tags_must_be_a_list_of_texts()
    {
        var e = FailsMinimalWith("tags: tabular");

        AssertAt(e, 6, 7);
        Assert.Equal("tags: expected a list of texts, got a value", e.Problem);
    }

    [Fact]
    public void Key_without_a_value_is_reported()
    {
        var e = FailsMinimalWith("experiment:");

        AssertAt(e, 6, 12);
        Assert.Equal("experiment: has no value", e.Problem);
    }

    [Fact]
    public void Settings_list_of_mappings_is_rejected()
    {
        var e = Fails(Yaml("name: t", "app:", "  name: tabular", "  settings:", "    layers: [{size: 4}]", "strategy: {name: fedavg}"));

        AssertAt(e, 5, 14);
        Assert.StartsWith("app.settings.layers[0]: a settings list may hold only single values", e.Problem);
    }

    [Fact]
    public void Settings_list_item_with_a_comma_is_rejected()
    {
        var e = Fails(Yaml("name: t", "app:", "  name: tabular", "  settings:", "    columns: [a, 'b,c']", "strategy: {name: fedavg}"));

        AssertAt(e, 5, 18);
        Assert.Equal("app.settings.columns[1]: 'b,c' contains a comma, which the comma-joined form cannot keep apart", e.Problem);
    }

    [Fact]
    public void Settings_that_flatten_to_the_same_key_are_rejected()
    {
        var e = Fails(Yaml("name: t", "app:", "  name: tabular", "  settings:", "    model: {mlp: 1}", "    model.mlp: 2", "strategy: {name: fedavg}"));

        AssertAt(e, 6, 5);
        Assert.Equal("app.settings.model.mlp: setting 'model.mlp' is given twice (nested keys flatten to dotted names)", e.Problem);
    }

    [Fact]
    public void Config_may_not_override_training_settings()
    {
        var e = FailsMinimalWith("config:", "  learning_rate: 0.5");

        AssertAt(e, 7, 3);
        Assert.StartsWith("config.learning_rate: 'learning_rate' is set by the server from the plan", e.Problem);
    }

    [Fact]
    public void Missing_plan_file_is_reported_with_its_path()
    {
        string path = Path.Combine(Path.GetTempPath(), $"cohort-missing-{Guid.NewGuid():N}.yaml");

        var e = Assert.Throws<PlanException>(() => PlanParser.ParseFile(path, StrategyRegistry.CreateDefault()));

        Assert.Equal(path, e.Source);
        Assert.Equal($"{path}: file not found", e.Message);
    }

    [Fact]
    public void Central_evaluation_names_a_server_held_file_and_requires_it()
    {
        Assert.Null(ParseMinimalWith().CentralEvaluation);
        Assert.Equal("holdout/test.csv", ParseMinimalWith("central_evaluation:", "  file: holdout/test.csv").CentralEvaluation!.File);

        var e = FailsMinimalWith("central_evaluation:", "  path: test.csv");
        var escape = FailsMinimalWith("central_evaluation:", "  file: \"\\e[2J\\rtest.csv\"");
        Assert.EndsWith("a value holds the control character U+001B; a plan takes printable text (tabs and line breaks aside)", escape.Message);
        var reordered = FailsMinimalWith("central_evaluation:", "  file: \"test\\u202Evsc.csv\"");
        Assert.EndsWith("a value holds the control character U+202E; a plan takes printable text (tabs and line breaks aside)", reordered.Message);
        var twice = FailsMinimalWith("selection:", "  nodes: [a, a]", "  min_available: 2");
        Assert.Contains("selection.nodes: 'a' is named twice", twice.Message);
        Assert.Contains("unknown key 'path' in central_evaluation (allowed: file)", e.Message);
    }
}
