using Cohort.Apps.Tabular;
using Cohort.Learning.Models;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Apps.Tests.Tabular;

/// <summary>The tabular app's side of SCAFFOLD and q-FedAvg.</summary>
public sealed class TabularScaffoldTests
{
    private static readonly Plan Plan = HeartDiseasePlan.Load();

    private static TabularApp Fresh() => new TabularAppFactory().CreateTabular(HeartDiseasePlan.Context(Plan, "hungarian"));

    /// <summary>A one-step full-batch SGD config, so the expected numbers follow from one gradient.</summary>
    private static Config OneStep => Plan.FitConfig(1).With([
        KeyValuePair.Create("local_steps", Scalar.Of(1)), KeyValuePair.Create("batch_size", Scalar.Of(1000)),
        KeyValuePair.Create("optimizer", Scalar.Of("sgd")), KeyValuePair.Create("learning_rate", Scalar.Of(0.1))]);

    private static ParameterSet Task(ParameterSet model, float control) =>
        new(model.Concat(model.Select(t =>
        {
            var c = new float[t.Count];
            Array.Fill(c, control);
            return Tensor.FromFloat32(ScaffoldTensors.ServerControlPrefix + t.Name, (int[])t.Shape.Clone(), c);
        })));

    [Fact]
    public async Task A_scaffold_task_corrects_the_gradient_and_returns_the_control_variate_change()
    {
        var app = Fresh();
        var x = await app.GetParametersAsync(Config.Empty, CancellationToken.None);
        var reference = new LogisticRegression(x["linear.weight"].Shape[1]);
        reference.ComputeGradients(app.Data.Train.Features, app.Data.Train.Labels);
        float gradient0 = reference.Gradients[0];

        // c = 0.5, cᵢ = 0: one step y = x − 0.1·(g + 0.5); Δcᵢ = (x − y)/(1·0.1) − c = g.
        var result = await app.FitAsync(Task(x, 0.5f), OneStep, CancellationToken.None);

        Assert.Equal(["linear.weight", "linear.bias", "scaffold/dc/linear.weight", "scaffold/dc/linear.bias"], result.Parameters.Select(t => t.Name));
        Assert.Equal(-0.1f * (gradient0 + 0.5f), result.Parameters["linear.weight"].AsFloat32()[0], 5);
        Assert.Equal(gradient0, result.Parameters["scaffold/dc/linear.weight"].AsFloat32()[0], 4);
    }

    [Fact]
    public async Task The_node_keeps_its_control_variate_for_the_next_round()
    {
        var app = Fresh();
        var x = await app.GetParametersAsync(Config.Empty, CancellationToken.None);
        var reference = new LogisticRegression(x["linear.weight"].Shape[1]);
        reference.ComputeGradients(app.Data.Train.Features, app.Data.Train.Labels);
        float gradient0 = reference.Gradients[0];

        await app.FitAsync(Task(x, 0f), OneStep, CancellationToken.None);
        // Now cᵢ = g: from the same x with c = g the correction c − cᵢ is 0, so the step is plain SGD.
        var second = await app.FitAsync(Task(x, gradient0), OneStep.With([KeyValuePair.Create("round", Scalar.Of(2))]), CancellationToken.None);

        Assert.Equal(-0.1f * gradient0, second.Parameters["linear.weight"].AsFloat32()[0], 5);
    }

    [Fact]
    public async Task A_new_app_given_the_last_ones_state_keeps_the_control_variate_as_a_kept_app_would()
    {
        // A simulation makes a virtual client's app anew for each task and carries the state across.
        var kept = Fresh();
        var x = await kept.GetParametersAsync(Config.Empty, CancellationToken.None);
        var round2 = OneStep.With([KeyValuePair.Create("round", Scalar.Of(2))]);
        Assert.Null(kept.SaveState());
        await kept.FitAsync(Task(x, 0f), OneStep, CancellationToken.None);
        var state = kept.SaveState();
        Assert.NotNull(state);
        var expected = await kept.FitAsync(Task(x, 0.25f), round2, CancellationToken.None);

        var next = Fresh();
        next.RestoreState(state);
        var carried = await next.FitAsync(Task(x, 0.25f), round2, CancellationToken.None);
        var forgotten = await Fresh().FitAsync(Task(x, 0.25f), round2, CancellationToken.None);

        Assert.Equal(expected.Parameters["linear.weight"].Data, carried.Parameters["linear.weight"].Data);
        Assert.Equal(expected.Parameters["scaffold/dc/linear.weight"].Data, carried.Parameters["scaffold/dc/linear.weight"].Data);
        // Without the state the control variate starts again from zero, and the result differs.
        Assert.NotEqual(expected.Parameters["linear.weight"].Data, forgotten.Parameters["linear.weight"].Data);
    }

    [Fact]
    public async Task A_round_trained_again_starts_from_the_control_variate_before_it_and_gives_the_same_result()
    {
        // As when a server restarted before it kept this node's result: the node is asked for round 2 again.
        var app = Fresh();
        var x = await app.GetParametersAsync(Config.Empty, CancellationToken.None);
        var round2 = OneStep.With([KeyValuePair.Create("round", Scalar.Of(2))]);
        await app.FitAsync(Task(x, 0f), OneStep, CancellationToken.None);
        var first = await app.FitAsync(Task(x, 0.25f), round2, CancellationToken.None);
        var again = await app.FitAsync(Task(x, 0.25f), round2, CancellationToken.None);

        Assert.Equal(first.Parameters["linear.weight"].Data, again.Parameters["linear.weight"].Data);
        Assert.Equal(first.Parameters["scaffold/dc/linear.weight"].Data, again.Parameters["scaffold/dc/linear.weight"].Data);
    }

    [Fact]
    public async Task Fit_reports_the_loss_at_the_global_model_for_q_FedAvg()
    {
        var app = Fresh();
        var x = await app.GetParametersAsync(Config.Empty, CancellationToken.None);
        var fit = await app.FitAsync(x, Plan.FitConfig(1), CancellationToken.None);
        // A zero logistic regression predicts 0.5 everywhere: cross-entropy ln 2.
        Assert.Equal(Math.Log(2), fit.Metrics["initial_train_loss"].AsDouble(), 5);
        Assert.True(fit.Metrics["train_loss"].AsDouble() < Math.Log(2));
    }
}
