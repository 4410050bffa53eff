using Cohort.Learning.Models;
using Cohort.Parameters;

namespace Cohort.Learning.Tests.Models;

public sealed class LogisticRegressionTests
{
    [Fact]
    public void Gradient_matches_finite_differences()
    {
        var model = new LogisticRegression(5);
        var rng = new Random(1);
        for (int i = 0; i < model.Weights.Length; i++) model.Weights[i] = (float)(rng.NextDouble() - 0.5);
        var (x, y) = GradientCheck.RandomBatch(7, 5, seed: 2);

        GradientCheck.VerifyAgainstFiniteDifferences(model, x, y);
    }

    [Fact]
    public void Loss_at_zero_weights_is_log_2()
    {
        var (x, y) = GradientCheck.RandomBatch(4, 3, seed: 3);

        Assert.Equal(Math.Log(2), new LogisticRegression(3).ComputeGradients(x, y), 1e-6);
    }

    [Fact]
    public void Loss_stays_finite_for_huge_logits()
    {
        var model = new LogisticRegression(1);
        model.Weights[0] = 1e6f;

        float loss = model.ComputeGradients([-1f], [1f]);

        Assert.Equal(1e6f, loss, 1f);
        Assert.True(float.IsFinite(model.Gradients[0]));
    }

    [Fact]
    public void Parameters_are_linear_weight_and_bias_as_pytorch_names_them()
    {
        var p = new LogisticRegression(13).GetParameters();

        Assert.Equal(["linear.weight float32[1,13]", "linear.bias float32[1]"], p.Select(t => t.Spec));
    }

    [Fact]
    public void Parameters_round_trip_through_a_parameter_set()
    {
        var a = new LogisticRegression(2);
        a.Weights[0] = 1; a.Weights[1] = 2; a.Weights[2] = 3;
        var b = new LogisticRegression(2);

        b.SetParameters(a.GetParameters());

        Assert.Equal([1f, 2f, 3f], b.Weights.ToArray());
    }

    [Fact]
    public void Loading_a_wrong_shape_names_the_tensor_and_both_shapes()
    {
        var wrong = new LogisticRegression(12).GetParameters();

        var e = Assert.Throws<ArgumentException>(() => new LogisticRegression(13).SetParameters(wrong));

        Assert.Equal("parameters do not fit logistic(13): expected linear.weight float32[1,13], got linear.weight float32[1,12]", e.Message);
    }

    [Fact]
    public void Loading_a_set_without_the_bias_names_the_missing_tensor()
    {
        var onlyWeight = new ParameterSet([Tensor.Zeros("linear.weight", DType.Float32, [1, 2])]);

        var e = Assert.Throws<ArgumentException>(() => new LogisticRegression(2).SetParameters(onlyWeight));

        Assert.StartsWith("parameters do not fit logistic(2): missing tensor 'linear.bias'", e.Message);
    }

    [Fact]
    public void Forward_computes_w_dot_x_plus_b()
    {
        var model = new LogisticRegression(2);
        model.Weights[0] = 2; model.Weights[1] = -1; model.Weights[2] = 0.5f;
        var logits = new float[2];

        model.Forward([1, 1, 3, 0], logits);

        Assert.Equal([1.5f, 6.5f], logits);
    }

    [Fact]
    public void The_torch_like_start_draws_weight_and_bias_within_one_over_root_fan_in_and_repeats_per_seed()
    {
        var a = new LogisticRegression(13);
        var b = new LogisticRegression(13);
        var c = new LogisticRegression(13);

        a.InitializeLikeTorch(42);
        b.InitializeLikeTorch(42);
        c.InitializeLikeTorch(43);

        float bound = 1 / MathF.Sqrt(13);
        Assert.All(a.Weights.ToArray(), w => Assert.InRange(w, -bound, bound));
        Assert.NotEqual(0f, a.Weights[13]);
        Assert.True(a.Weights.ToArray().Max() - a.Weights.ToArray().Min() > bound, "the draw does not spread over the interval");
        Assert.Equal(a.Weights.ToArray(), b.Weights.ToArray());
        Assert.NotEqual(a.Weights.ToArray(), c.Weights.ToArray());
    }
}
