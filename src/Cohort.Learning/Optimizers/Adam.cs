using System.Numerics.Tensors;

namespace Cohort.Learning.Optimizers;

/// <summary>
/// Adam (Kingma and Ba, 2015) as PyTorch's torch.optim.Adam, with L2 weight decay added to the gradient:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
/// </summary>
public sealed class Adam : IOptimizer
{
    private readonly float _learningRate;
    private readonly float _beta1;
    private readonly float _beta2;
    private readonly float _epsilon;
    private readonly float _weightDecay;
    private readonly float[] _m;
    private readonly float[] _v;
    private readonly float[] _g;
    private readonly float[] _denominator;
    private int _t;

    /// <summary>Creates Adam for <paramref name="parameterCount"/> parameters.</summary>
    public Adam(int parameterCount, double learningRate, double weightDecay = 0, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        if (!(learningRate > 0) || !double.IsFinite(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learning rate must be a positive number");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must lie in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must lie in [0, 1)");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must not be negative");
        _learningRate = (float)learningRate;
        _beta1 = (float)beta1;
        _beta2 = (float)beta2;
        _epsilon = (float)epsilon;
        _weightDecay = (float)weightDecay;
        _m = new float[parameterCount];
        _v = new float[parameterCount];
        _g = new float[parameterCount];
        _denominator = new float[parameterCount];
    }

    /// <inheritdoc />
    public string Name => "adam";

    /// <inheritdoc />
    public void Step(Span<float> weights, ReadOnlySpan<float> gradients)
    {
        if (weights.Length != _m.Length || gradients.Length != _m.Length)
            throw new ArgumentException($"optimiser was made for {_m.Length} parameters, got {weights.Length} weights and {gradients.Length} gradients");
        _t++;
        Span<float> g = _g;
        if (_weightDecay != 0) TensorPrimitives.MultiplyAdd(weights, _weightDecay, gradients, g);
        else gradients.CopyTo(g);

        // m ← β₁m + (1−β₁)g
        TensorPrimitives.Multiply(_m, _beta1, _m);
        TensorPrimitives.MultiplyAdd(g, 1 - _beta1, _m, _m);
        // v ← β₂v + (1−β₂)g²
        TensorPrimitives.Multiply(_v, _beta2, _v);
        TensorPrimitives.Multiply(g, g, g);
        TensorPrimitives.MultiplyAdd(g, 1 - _beta2, _v, _v);

        double correction1 = 1 - Math.Pow(_beta1, _t);
        double correction2 = 1 - Math.Pow(_beta2, _t);
        float stepSize = (float)(_learningRate / correction1);
        Span<float> d = _denominator;
        TensorPrimitives.Sqrt(_v, d);
        TensorPrimitives.Multiply(d, (float)(1 / Math.Sqrt(correction2)), d);
        TensorPrimitives.Add(d, _epsilon, d);
        TensorPrimitives.Divide(_m, d, d);
        TensorPrimitives.MultiplyAdd(d, -stepSize, weights, weights);
    }
}
