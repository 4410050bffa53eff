using Cohort.Learning.Models;

namespace Cohort.Learning.Tests.Models;

public sealed class MlpTests
{
    [Fact]
    public void Gradient_matches_finite_differences_through_two_relu_layers()
    {
        var model = new Mlp(4, [6, 3]);
        model.Initialize(seed: 7);
        var (x, y) = GradientCheck.RandomBatch(5, 4, seed: 8);

        GradientCheck.VerifyAgainstFiniteDifferences(model, x, y, epsilon: 1e-3f, tolerance: 3e-3);
    }

    [Fact]
    public void Parameters_name_each_layer_with_pytorch_shapes()
    {
        var p = new Mlp(13, [32, 16]).GetParameters();

        Assert.Equal(
            ["hidden1.weight float32[32,13]", "hidden1.bias float32[32]", "hidden2.weight float32[16,32]", "hidden2.bias float32[16]", "output.weight float32[1,16]", "output.bias float32[1]"],
            p.Select(t => t.Spec));
    }

    [Fact]
    public void Initialisation_is_seeded_and_bounded_by_one_over_root_fan_in()
    {
        var a = new Mlp(16, [8]);
        var b = new Mlp(16, [8]);
        a.Initialize(3);
        b.Initialize(3);

        Assert.Equal(a.Weights.ToArray(), b.Weights.ToArray());
        Assert.All(a.Weights[..(8 * 16)].ToArray(), w => Assert.InRange(w, -0.25f, 0.25f));
        Assert.Contains(a.Weights.ToArray(), w => w != 0);
    }

    [Fact]
    public void Forward_of_a_batch_equals_forward_of_each_row()
    {
        var model = new Mlp(3, [4]);
        model.Initialize(1);
        var (x, _) = GradientCheck.RandomBatch(6, 3, seed: 2);
        var batch = new float[6];
        model.Forward(x, batch);

        for (int i = 0; i < 6; i++)
        {
            var single = new float[1];
            model.Forward(x.AsSpan(i * 3, 3), single);
            Assert.Equal(batch[i], single[0], 1e-6f);
        }
    }

    [Fact]
    public void A_model_without_hidden_layers_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new Mlp(3, []));
    }
}
