using System.Numerics.Tensors;

namespace Cohort.Learning.Optimizers;

/// <summary>
/// Stochastic gradient descent as PyTorch's torch.optim.SGD (no dampening, no Nesterov):
/// g ← ∇ + λ·w; with momentum μ, b ← g on the first step and μ·b + g after, g ← b; then w ← w − η·g.
/// </summary>
public sealed class Sgd : IOptimizer
{
    private readonly float _learningRate;
    private readonly float _momentum;
    private readonly float _weightDecay;
    private readonly float[] _step;
    private readonly float[] _buffer;
    private bool _started;

    /// <summary>Creates SGD for <paramref name="parameterCount"/> parameters.</summary>
    public Sgd(int parameterCount, double learningRate, double momentum = 0, double weightDecay = 0)
    {
        if (!(learningRate > 0) || !double.IsFinite(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learning rate must be a positive number");
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must lie in [0, 1)");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must not be negative");
        _learningRate = (float)learningRate;
        _momentum = (float)momentum;
        _weightDecay = (float)weightDecay;
        _step = new float[parameterCount];
        _buffer = momentum > 0 ? new float[parameterCount] : [];
    }

    /// <inheritdoc />
    public string Name => "sgd";

    /// <inheritdoc />
    public void Step(Span<float> weights, ReadOnlySpan<float> gradients)
    {
        if (weights.Length != _step.Length || gradients.Length != _step.Length)
            throw new ArgumentException($"optimiser was made for {_step.Length} parameters, got {weights.Length} weights and {gradients.Length} gradients");
        Span<float> g = _step;
        if (_weightDecay != 0) TensorPrimitives.MultiplyAdd(weights, _weightDecay, gradients, g);
        else gradients.CopyTo(g);
        if (_momentum != 0)
        {
            if (_started) TensorPrimitives.MultiplyAdd(_buffer, _momentum, g, _buffer);
            else g.CopyTo(_buffer);
            _started = true;
            g = _buffer;
        }
        TensorPrimitives.MultiplyAdd(g, -_learningRate, weights, weights);
    }
}
