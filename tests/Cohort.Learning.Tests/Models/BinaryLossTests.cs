using Cohort.Learning.Models;

namespace Cohort.Learning.Tests.Models;

public sealed class BinaryLossTests
{
    private static readonly float[] Logits = [-4f, -1.5f, -0.2f, 0f, 0.7f, 2.5f, 6f, -8f];
    private static readonly float[] Labels = [0, 1, 0, 1, 1, 0, 1, 1];

    [Fact]
    public void Equal_class_weights_without_focal_term_scale_plain_cross_entropy()
    {
        var g1 = new float[8];
        var g2 = new float[8];
        float plain = BinaryCrossEntropy.WithLogits(Logits, Labels, g1, new float[8]);
        // Weights of 2 take the scalar path, which must give twice the vectorised cross-entropy and its gradient.
        float weighted = new BinaryLoss(2, 2).Compute(Logits, Labels, g2, new float[8]);
        Assert.Equal(2 * plain, weighted, 5);
        for (int i = 0; i < 8; i++) Assert.Equal(2 * g1[i], g2[i], 5);
    }

    [Theory]
    [InlineData(1.0, 9.0, 0.0)]
    [InlineData(1.0, 1.0, 2.0)]
    [InlineData(0.6, 4.0, 1.5)]
    public void The_gradient_matches_finite_differences_of_the_loss(double w0, double w1, double gamma)
    {
        var loss = new BinaryLoss(w0, w1, gamma);
        var gradient = new float[8];
        loss.Compute(Logits, Labels, gradient, new float[8]);
        const float h = 1e-2f;
        for (int i = 0; i < Logits.Length; i++)
        {
            var plus = (float[])Logits.Clone();
            var minus = (float[])Logits.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (loss.Compute(plus, Labels, new float[8], new float[8]) - loss.Compute(minus, Labels, new float[8], new float[8])) / (2 * h);
            Assert.True(Math.Abs(numeric - gradient[i]) < 1e-3 + 1e-2 * Math.Abs(numeric), $"logit {i}: analytic {gradient[i]}, numeric {numeric}");
        }
    }

    [Fact]
    public void The_positive_weight_scales_only_the_positive_rows_and_the_focal_term_discounts_easy_rows()
    {
        float[] z = [3f, 3f];
        float[] y = [1, 0];
        var g = new float[2];
        new BinaryLoss(1, 10).Compute(z, y, g, new float[2]);
        var plain = new float[2];
        BinaryCrossEntropy.WithLogits(z, y, plain, new float[2]);
        Assert.Equal(10 * plain[0], g[0], 5);
        Assert.Equal(plain[1], g[1], 5);

        // The easy row (positive at logit 3) loses far more of its loss than the hard one (negative at 3).
        float focalEasy = new BinaryLoss(FocalGamma: 2).Compute([3f], [1], new float[1], new float[1]);
        float focalHard = new BinaryLoss(FocalGamma: 2).Compute([3f], [0], new float[1], new float[1]);
        float bceEasy = BinaryCrossEntropy.WithLogits([3f], [1], new float[1], new float[1]);
        float bceHard = BinaryCrossEntropy.WithLogits([3f], [0], new float[1], new float[1]);
        Assert.True(focalEasy / bceEasy < 0.01 && focalHard / bceHard > 0.9, $"easy {focalEasy / bceEasy}, hard {focalHard / bceHard}");
    }

    [Fact]
    public void Models_train_on_the_loss_they_are_given()
    {
        var (x, y) = GradientCheck.RandomBatch(12, 4, 3);
        var model = new LogisticRegression(4);
        model.Initialize(0);
        for (int i = 0; i < model.Weights.Length; i++) model.Weights[i] = 0.1f * (i - 2);
        var loss = new BinaryLoss(0.5, 3, 1.5);
        float value = model.ComputeGradients(x, y, loss);
        var logits = new float[12];
        model.Forward(x, logits);
        Assert.Equal(loss.Compute(logits, y, new float[12], new float[12]), value, 6);
    }
}
