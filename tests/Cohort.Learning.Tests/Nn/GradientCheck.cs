using Cohort.Learning.Nn;
using Cohort.Learning.Nn.Losses;

namespace Cohort.Learning.Tests.Nn;

/// <summary>
/// Compares a network's analytic parameter gradients (softmax cross-entropy over random labels)
/// with central finite differences of the loss, in float32 with tolerances to match. The step is
/// small (1e-3) so that it rarely crosses a ReLU or max-pool kink, where differences lie.
/// </summary>
internal static class GradientCheck
{
    public static void VerifyAgainstFiniteDifferences(Sequential network, int batch, int seed, float epsilon = 1e-3f, double tolerance = 2e-3)
    {
        var random = new Random(seed);
        network.Threads = 2;
        network.Initialize(seed, WeightInit.GlorotUniform);
        // Non-zero biases so a wrong bias gradient cannot hide behind zeros.
        foreach (var slot in network.Layout.Slots)
            if (slot.Name.EndsWith(".bias", StringComparison.Ordinal))
                for (int i = 0; i < slot.Length; i++) network.Weights[slot.Offset + i] = (float)(random.NextDouble() - 0.5);
        var x = new float[batch * network.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        var labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = random.Next(network.OutputSize);

        Loss(network, x, labels, batch, seed, withGradient: true);
        var analytic = (float[])network.Gradients.Clone();
        for (int i = 0; i < analytic.Length; i++)
        {
            float saved = network.Weights[i];
            network.Weights[i] = saved + epsilon;
            double plus = Loss(network, x, labels, batch, seed, withGradient: false);
            network.Weights[i] = saved - epsilon;
            double minus = Loss(network, x, labels, batch, seed, withGradient: false);
            network.Weights[i] = saved;
            double numeric = (plus - minus) / (2 * epsilon);
            Assert.True(Math.Abs(numeric - analytic[i]) <= tolerance + 2e-2 * Math.Abs(numeric),
                $"{network.Name} {SlotOf(network, i)}: analytic {analytic[i]}, finite difference {numeric}");
        }
    }

    private static double Loss(Sequential network, float[] x, int[] labels, int batch, int seed, bool withGradient)
    {
        network.Reseed(seed); // the same dropout mask for every evaluation
        var logits = network.Forward(x, batch, training: true);
        var grad = network.OutputGradientBuffer(batch);
        float loss = SoftmaxCrossEntropy.Compute(logits, network.OutputSize, labels, withGradient ? grad : Span<float>.Empty, out _);
        if (withGradient) network.Backward(grad, batch);
        return loss;
    }

    private static string SlotOf(Sequential network, int index)
    {
        foreach (var s in network.Layout.Slots)
            if (index >= s.Offset && index < s.Offset + s.Length) return $"{s.Name}[{index - s.Offset}]";
        return $"parameter {index}";
    }
}
