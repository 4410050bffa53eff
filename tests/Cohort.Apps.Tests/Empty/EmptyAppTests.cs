using Cohort.Apps.Empty;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Apps.Tests.Empty;

public sealed class EmptyAppTests
{
    private static IClientApp Create(params (string Key, string Value)[] settings) =>
        new EmptyAppFactory().Create(new ClientAppContext("run", "site", Config.Empty,
            new Config(settings.Select(s => KeyValuePair.Create(s.Key, Scalar.Of(s.Value))))));

    [Fact]
    public async Task Tensors_splits_the_values_into_that_many_tensors_equal_but_for_the_last()
    {
        var model = await Create(("values", "10"), ("tensors", "4"), ("fill", "0.5")).GetParametersAsync(Config.Empty, CancellationToken.None);
        Assert.Equal(["weights.0", "weights.1", "weights.2", "weights.3"], model.Select(t => t.Name));
        Assert.Equal([3L, 3, 3, 1], model.Select(t => t.Count));
        Assert.All(model, t => Assert.All(t.AsFloat32().ToArray(), v => Assert.Equal(0.5f, v)));
    }

    [Fact]
    public async Task Without_tensors_a_small_model_is_one_tensor()
    {
        var model = await Create(("values", "1000")).GetParametersAsync(Config.Empty, CancellationToken.None);
        Assert.Equal("weights", Assert.Single(model).Name);
    }

    [Fact]
    public async Task A_scaffold_task_gets_the_model_back_with_a_zero_change_of_the_control_variate()
    {
        var app = Create(("values", "10"), ("tensors", "2"), ("fill", "0.5"));
        var model = await app.GetParametersAsync(Config.Empty, CancellationToken.None);
        var control = model.Clone();
        foreach (var t in control) t.AsFloat32().Fill(0.25f);
        var task = new ParameterSet(model.Concat(ScaffoldTensors.Prefixed(control, ScaffoldTensors.ServerControlPrefix)));

        var result = await app.FitAsync(task, Config.Empty, CancellationToken.None);

        // What the strategy expects back: the model, then Δc named after the model's tensors.
        Assert.Equal(["weights.0", "weights.1", "scaffold/dc/weights.0", "scaffold/dc/weights.1"], result.Parameters.Select(t => t.Name));
        Assert.Equal(model.Select(t => t.Count), result.Parameters.Take(2).Select(t => t.Count));
        Assert.All(result.Parameters.Take(2), t => Assert.All(t.AsFloat32().ToArray(), v => Assert.Equal(0.5f, v)));
        Assert.All(result.Parameters.Skip(2), t => Assert.All(t.AsFloat32().ToArray(), v => Assert.Equal(0f, v)));
    }

    [Fact]
    public void Tensors_that_would_pass_2_GiB_each_are_refused_with_how_many_are_needed()
    {
        var e = Assert.Throws<ArgumentException>(() => Create(("values", "2400000000"), ("tensors", "4")));
        Assert.Contains("use at least 5 tensors", e.Message);
    }
}
