namespace Cohort.Learning.Nn;

/// <summary>How <see cref="Sequential.Initialize"/> draws the initial weights of Linear and Conv2d layers.</summary>
public enum WeightInit
{
    /// <summary>He/Kaiming uniform for ReLU networks: weights U(±√(6/fan_in)), biases zero.</summary>
    KaimingUniform,

    /// <summary>He/Kaiming normal: weights N(0, 2/fan_in), biases zero.</summary>
    KaimingNormal,

    /// <summary>Glorot/Xavier uniform: weights U(±√(6/(fan_in + fan_out))), biases zero.</summary>
    GlorotUniform,

    /// <summary>PyTorch's default for nn.Linear and nn.Conv2d: weights and biases U(±1/√fan_in).</summary>
    Torch,
}

/// <summary>Draws parameter values for a <see cref="WeightInit"/> scheme.</summary>
internal static class WeightInitializer
{
    public static void Fill(Span<float> weights, Span<float> bias, int fanIn, int fanOut, WeightInit scheme, Random random)
    {
        switch (scheme)
        {
            case WeightInit.KaimingUniform:
                Uniform(weights, MathF.Sqrt(6f / fanIn), random);
                bias.Clear();
                break;
            case WeightInit.KaimingNormal:
                Normal(weights, MathF.Sqrt(2f / fanIn), random);
                bias.Clear();
                break;
            case WeightInit.GlorotUniform:
                Uniform(weights, MathF.Sqrt(6f / (fanIn + fanOut)), random);
                bias.Clear();
                break;
            case WeightInit.Torch:
                Uniform(weights, 1f / MathF.Sqrt(fanIn), random);
                Uniform(bias, 1f / MathF.Sqrt(fanIn), random);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(scheme), scheme, "unknown initialisation");
        }
    }

    private static void Uniform(Span<float> values, float bound, Random random)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
    }

    // Box–Muller; both values of each pair are used so the stream stays aligned across calls.
    private static void Normal(Span<float> values, float std, Random random)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            double r = Math.Sqrt(-2 * Math.Log(u1));
            values[i] = (float)(r * Math.Cos(2 * Math.PI * u2) * std);
            if (i + 1 < values.Length) values[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2) * std);
        }
    }
}
