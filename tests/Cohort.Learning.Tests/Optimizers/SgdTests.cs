using Cohort.Learning.Optimizers;

namespace Cohort.Learning.Tests.Optimizers;

public sealed class SgdTests
{
    [Fact]
    public void Plain_step_moves_against_the_gradient_by_the_learning_rate()
    {
        float[] w = [1, 2];

        new Sgd(2, learningRate: 0.1).Step(w, [0.5f, -1f]);

        Assert.Equal([0.95f, 2.1f], w);
    }

    [Fact]
    public void Weight_decay_adds_lambda_times_w_to_the_gradient()
    {
        float[] w = [1, 2];

        new Sgd(2, learningRate: 0.1, weightDecay: 0.1).Step(w, [0.5f, -1f]);

        Assert.Equal(0.94f, w[0], 1e-6f);
        Assert.Equal(2.08f, w[1], 1e-6f);
    }

    [Fact]
    public void Momentum_buffer_starts_at_the_first_gradient_and_accumulates()
    {
        float[] w = [1, 2];
        var sgd = new Sgd(2, learningRate: 0.1, momentum: 0.9, weightDecay: 0.1);

        sgd.Step(w, [0.5f, -1f]);
        sgd.Step(w, [0.2f, 0.4f]);

        // d1 = [0.6, -0.8], b1 = d1, w1 = [0.94, 2.08]; d2 = [0.294, 0.608], b2 = 0.9·b1 + d2 = [0.834, -0.112].
        Assert.Equal(0.8566f, w[0], 1e-6f);
        Assert.Equal(2.0912f, w[1], 1e-6f);
    }
}
