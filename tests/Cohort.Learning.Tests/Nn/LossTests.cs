using Cohort.Learning.Models;
using Cohort.Learning.Nn.Losses;

namespace Cohort.Learning.Tests.Nn;

public sealed class LossTests
{
    [Fact]
    public void Softmax_cross_entropy_equals_the_hand_computed_value_and_counts_correct_rows()
    {
        // Row 1: logits [0, ln 3] → p = [0.25, 0.75], label 1 (right): −ln 0.75.
        // Row 2: logits [ln 3, 0] → p = [0.75, 0.25], label 1 (wrong): −ln 0.25.
        float[] logits = [0, MathF.Log(3), MathF.Log(3), 0];
        var gradient = new float[4];

        float loss = SoftmaxCrossEntropy.Compute(logits, 2, [1, 1], gradient, out int correct);

        Assert.Equal((-Math.Log(0.75) - Math.Log(0.25)) / 2, loss, 1e-6);
        Assert.Equal(1, correct);
        // (p − onehot)/rows.
        Assert.Equal([0.125f, -0.125f, 0.375f, -0.375f], gradient.Select(g => MathF.Round(g, 6)).ToArray());
    }

    [Fact]
    public void Softmax_cross_entropy_is_stable_for_huge_logits()
    {
        float loss = SoftmaxCrossEntropy.Compute([1000f, -1000f, 0f], 3, [1], new float[3], out _);

        Assert.Equal(2000f, loss, 1e-2f);
    }

    [Fact]
    public void Softmax_cross_entropy_gradient_matches_finite_differences()
    {
        var random = new Random(1);
        int rows = 4, classes = 5;
        var logits = new float[rows * classes];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(random.NextDouble() * 4 - 2);
        int[] labels = [0, 3, 4, 3];
        var gradient = new float[logits.Length];
        SoftmaxCrossEntropy.Compute(logits, classes, labels, gradient, out _);

        for (int i = 0; i < logits.Length; i++)
        {
            float saved = logits[i];
            logits[i] = saved + 1e-2f;
            double plus = SoftmaxCrossEntropy.Compute(logits, classes, labels, Span<float>.Empty, out _);
            logits[i] = saved - 1e-2f;
            double minus = SoftmaxCrossEntropy.Compute(logits, classes, labels, Span<float>.Empty, out _);
            logits[i] = saved;
            Assert.Equal((plus - minus) / 2e-2, gradient[i], 1e-3);
        }
    }

    [Fact]
    public void Softmax_cross_entropy_refuses_a_label_outside_the_classes()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Compute([0f, 0f], 2, [2], new float[2], out _));
        Assert.Contains("outside 0..1", e.Message);
    }

    [Fact]
    public void Sigmoid_binary_cross_entropy_gradient_matches_finite_differences()
    {
        float[] logits = [-3f, -0.5f, 0.2f, 4f];
        float[] labels = [0, 1, 1, 0];
        var gradient = new float[4];
        var scratch = new float[4];
        BinaryCrossEntropy.WithLogits(logits, labels, gradient, scratch);

        for (int i = 0; i < logits.Length; i++)
        {
            float saved = logits[i];
            logits[i] = saved + 1e-2f;
            double plus = BinaryCrossEntropy.WithLogits(logits, labels, new float[4], scratch);
            logits[i] = saved - 1e-2f;
            double minus = BinaryCrossEntropy.WithLogits(logits, labels, new float[4], scratch);
            logits[i] = saved;
            Assert.Equal((plus - minus) / 2e-2, gradient[i], 1e-3);
        }
    }
}
