using Cohort.Learning.Optimizers;

namespace Cohort.Learning.Tests.Optimizers;

public sealed class AdamTests
{
    [Fact]
    public void First_step_moves_each_weight_by_the_learning_rate_against_the_gradient_sign()
    {
        float[] w = [1, 1];

        new Adam(2, learningRate: 0.1).Step(w, [0.5f, -3f]);

        // m̂ = g and v̂ = g², so the step is η·g/(|g| + ε).
        Assert.Equal(0.9f, w[0], 1e-6f);
        Assert.Equal(1.1f, w[1], 1e-6f);
    }

    [Fact]
    public void Second_step_uses_bias_corrected_moments()
    {
        float[] w = [1];
        var adam = new Adam(1, learningRate: 0.1);

        adam.Step(w, [0.5f]);
        adam.Step(w, [-1f]);

        // m = 0.9·0.05 − 0.1 = −0.055, v = 0.999·0.00025 + 0.001 = 0.00124975,
        // w = 0.9 + 0.1/0.19 · 0.055 / (√v/√0.001999) = 0.93661035.
        Assert.Equal(0.93661035f, w[0], 1e-6f);
    }

    [Fact]
    public void Weight_decay_is_added_to_the_gradient()
    {
        float[] w = [2];

        // g = 0 + 0.5·2 = 1 > 0, so the first step lowers w by η.
        new Adam(1, learningRate: 0.01, weightDecay: 0.5).Step(w, [0f]);

        Assert.Equal(1.99f, w[0], 1e-6f);
    }
}
