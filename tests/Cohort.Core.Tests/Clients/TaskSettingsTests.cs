using Cohort.Apps;
using Cohort.Clients;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Privacy;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Clients;

/// <summary>Cohort's reserved part of a task: typed settings apart from the app's config, read by the client steps.</summary>
public sealed class TaskSettingsTests
{
    private static Plan Parse(string yaml) => PlanParser.Parse(yaml, "p.yaml", StrategyRegistry.CreateDefault());

    private static ParameterSet Two(float body, float head) =>
        new([Tensor.FromFloat32("body", [1], [body]), Tensor.FromFloat32("head", [1], [head])]);

    [Fact]
    public void A_plan_puts_its_seed_privacy_and_local_tensors_in_the_settings_and_leaves_the_app_config_as_it_was()
    {
        var plan = Parse("name: t\napp: {name: tabular}\nstrategy: {name: fedavg}\nseed: 9\npersonalization: {local: [\"head*\"]}\nconfig: {tag: a}\n");

        Assert.Equal(new TaskSettings(9) { LocalParameters = ["head*"] }, plan.TaskSettings);
        var fit = plan.FitConfig(2);
        // What the app reads is what it always read: training settings, round, seed and the plan's config.
        Assert.Equal(["batch_size", "learning_rate", "local_epochs", "momentum", "optimizer", "round", "rounds", "seed", "tag", "weight_decay"], fit.Select(kv => kv.Key).Order(StringComparer.Ordinal));
        Assert.Equal(9, fit.GetInt("seed", 0));
    }

    [Theory]
    [InlineData("dp_clipping_norm", "privacy.clipping_norm")]
    [InlineData("dp_noise_multiplier", "privacy.noise_multiplier")]
    [InlineData("dp_delta", "privacy.delta")]
    [InlineData("local_parameters", "personalization.local")]
    public void A_config_key_with_a_name_cohort_uses_is_refused_at_its_line(string key, string setBy)
    {
        var e = Assert.Throws<PlanException>(() => Parse($"name: t\napp: {{name: tabular}}\nstrategy: {{name: fedavg}}\nconfig:\n  ok: 1\n  {key}: 0.5\n"));

        Assert.Equal((6, 3), (e.Line, e.Column));
        Assert.Equal($"config.{key}: '{key}' is reserved for Cohort (set by {setBy}); choose another name", e.Problem);
    }

    [Fact]
    public async Task The_privacy_step_acts_on_the_settings_and_not_on_config_keys()
    {
        var runner = new ClientTaskRunner(new LocalPrivacyStep(seeded: true));
        var app = new AddApp(10f);
        var sent = new ParameterSet([Tensor.FromFloat32("w", [1], [0f])]);

        var oldStyle = new Config([KeyValuePair.Create(LocalDifferentialPrivacy.ClippingNormKey, Scalar.Of(1.0))]);
        var untouched = await runner.RunAsync(app, new ClientTask("r", "n", 1, TaskKind.Fit, oldStyle, sent), CancellationToken.None);
        Assert.Equal(10f, untouched.Parameters!["w"].AsFloat32()[0]);
        Assert.False(untouched.Metrics.ContainsKey("dp_clipped"));

        var task = new ClientTask("r", "n", 1, TaskKind.Fit, Config.Empty, sent) { Settings = new TaskSettings(5, new LocalPrivacySettings(1.0, 0, 1e-5)) };
        var clipped = await runner.RunAsync(app, task, CancellationToken.None);
        // An update of 10 clipped to norm 1, no noise.
        Assert.Equal(1f, clipped.Parameters!["w"].AsFloat32()[0], 5);
        Assert.Equal(1.0, clipped.Metrics["dp_clipped"].AsDouble());
    }

    [Fact]
    public async Task The_personalization_step_keeps_the_tensors_the_settings_name()
    {
        var step = new PersonalizationStep();
        var runner = new ClientTaskRunner(step);
        var app = new AddApp(1f);
        var settings = new TaskSettings { LocalParameters = ["head"] };

        var first = await runner.RunAsync(app, new ClientTask("r", "n", 1, TaskKind.Fit, Config.Empty, Two(0, 0)) { Settings = settings }, CancellationToken.None);
        Assert.Equal(["body"], first.Parameters!.Select(t => t.Name));
        // Without settings the same task leaves with every tensor, whatever its config says.
        var config = new Config([KeyValuePair.Create(PersonalizedClientApp.LocalParametersKey, Scalar.Of("head"))]);
        var plain = await runner.RunAsync(app, new ClientTask("r", "m", 1, TaskKind.Fit, config, Two(0, 0)), CancellationToken.None);
        Assert.Equal(["body", "head"], plain.Parameters!.Select(t => t.Name));
    }

    /// <summary>Adds <paramref name="step"/> to every value on fit.</summary>
    private sealed class AddApp(float step) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => throw new NotSupportedException();

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new FitResult(new ParameterSet(parameters.Select(t => Tensor.FromFloat32(t.Name, [1], [t.AsFloat32()[0] + step]))), 1, Metrics.Empty));

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0, 1, Metrics.Empty));
    }
}
