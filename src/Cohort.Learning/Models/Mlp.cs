using Cohort.Parameters;

namespace Cohort.Learning.Models;

/// <summary>
/// Multi-layer perceptron: fully connected hidden layers with ReLU and one sigmoid output. Parameters:
/// "hidden{i}.weight" [h_i, h_{i-1}] and "hidden{i}.bias" [h_i] for i = 1…, then "output.weight" [1, h_last]
/// and "output.bias" [1]. Forward and backward run on whole batches.
/// </summary>
public sealed class Mlp : IModel
{
    private readonly int[] _sizes; // inputs, hidden…, 1
    private readonly ParameterSlot[] _weightSlots;
    private readonly ParameterSlot[] _biasSlots;
    private readonly float[] _weights;
    private readonly float[] _gradients;
    private readonly float[][] _activations; // [layer][rows × size] for the hidden layers
    private readonly float[][] _deltas;
    private float[] _logits = [];
    private float[] _dlogits = [];
    private float[] _scratch = [];
    private int _capacity;

    /// <summary>Creates an MLP with the given hidden layer sizes; parameters start at zero until <see cref="Initialize"/>.</summary>
    public Mlp(int inputSize, IReadOnlyList<int> hidden)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        if (hidden.Count == 0) throw new ArgumentException("an MLP needs at least one hidden layer (use logistic regression for none)", nameof(hidden));
        foreach (int h in hidden)
            if (h < 1) throw new ArgumentException($"hidden layer sizes must be positive, got {h}", nameof(hidden));

        InputSize = inputSize;
        _sizes = [inputSize, .. hidden, 1];
        var tensors = new List<(string, int[])>();
        for (int l = 1; l < _sizes.Length; l++)
        {
            string name = l == _sizes.Length - 1 ? "output" : $"hidden{l}";
            tensors.Add(($"{name}.weight", [_sizes[l], _sizes[l - 1]]));
            tensors.Add(($"{name}.bias", [_sizes[l]]));
        }
        Layout = new ParameterLayout(tensors);
        int layers = _sizes.Length - 1;
        _weightSlots = new ParameterSlot[layers];
        _biasSlots = new ParameterSlot[layers];
        for (int l = 0; l < layers; l++)
        {
            _weightSlots[l] = Layout.Slots[2 * l];
            _biasSlots[l] = Layout.Slots[2 * l + 1];
        }
        _weights = new float[Layout.Size];
        _gradients = new float[Layout.Size];
        _activations = new float[hidden.Count][];
        _deltas = new float[hidden.Count][];
        for (int l = 0; l < hidden.Count; l++) _activations[l] = _deltas[l] = [];
    }

    /// <inheritdoc />
    public string Description => $"mlp({string.Join("-", _sizes)})";

    /// <inheritdoc />
    public int InputSize { get; }

    /// <summary>Hidden layer sizes.</summary>
    public IReadOnlyList<int> Hidden => _sizes[1..^1];

    /// <inheritdoc />
    public ParameterLayout Layout { get; }

    /// <inheritdoc />
    public Span<float> Weights => _weights;

    /// <inheritdoc />
    public Span<float> Gradients => _gradients;

    /// <summary>PyTorch's nn.Linear default: weights and biases uniform in ±1/√fan_in, from a seeded generator.</summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        for (int l = 0; l < _weightSlots.Length; l++)
        {
            float bound = 1f / MathF.Sqrt(_sizes[l]);
            foreach (var slot in (ReadOnlySpan<ParameterSlot>)[_weightSlots[l], _biasSlots[l]])
            {
                var span = _weights.AsSpan(slot.Offset, slot.Length);
                for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() * 2 - 1) * bound;
            }
        }
    }

    /// <inheritdoc />
    public ParameterSet GetParameters() => Layout.ToParameterSet(_weights);

    /// <inheritdoc />
    public void SetParameters(ParameterSet parameters) => Layout.Load(parameters, _weights, Description);

    /// <inheritdoc />
    public void Forward(ReadOnlySpan<float> features, Span<float> logits)
    {
        int n = CheckRows(features, logits.Length);
        EnsureCapacity(n);
        RunForward(features, n, logits[..n]);
    }

    /// <inheritdoc />
    public float ComputeGradients(ReadOnlySpan<float> features, ReadOnlySpan<float> labels) => ComputeGradients(features, labels, BinaryLoss.CrossEntropy);

    /// <inheritdoc />
    public float ComputeGradients(ReadOnlySpan<float> features, ReadOnlySpan<float> labels, BinaryLoss loss)
    {
        int n = CheckRows(features, labels.Length);
        EnsureCapacity(n);
        var z = _logits.AsSpan(0, n);
        RunForward(features, n, z);
        float value = loss.Compute(z, labels, _dlogits, _scratch);

        Array.Clear(_gradients);
        ReadOnlySpan<float> delta = _dlogits.AsSpan(0, n);
        for (int l = _weightSlots.Length - 1; l >= 0; l--)
        {
            ReadOnlySpan<float> input = l == 0 ? features : _activations[l - 1].AsSpan(0, n * _sizes[l]);
            Span<float> dInput = l == 0 ? Span<float>.Empty : _deltas[l - 1].AsSpan(0, n * _sizes[l]);
            DenseKernels.Backward(input, _sizes[l], W(l), delta, G(_weightSlots[l]), G(_biasSlots[l]), dInput);
            if (l > 0)
            {
                DenseKernels.ReluBackward(_activations[l - 1].AsSpan(0, n * _sizes[l]), dInput);
                delta = dInput;
            }
        }
        return value;
    }

    private void RunForward(ReadOnlySpan<float> features, int n, Span<float> logits)
    {
        ReadOnlySpan<float> input = features;
        for (int l = 0; l < _weightSlots.Length; l++)
        {
            bool last = l == _weightSlots.Length - 1;
            Span<float> output = last ? logits : _activations[l].AsSpan(0, n * _sizes[l + 1]);
            DenseKernels.Forward(input, _sizes[l], W(l), _weights.AsSpan(_biasSlots[l].Offset, _biasSlots[l].Length), output);
            if (!last)
            {
                DenseKernels.Relu(output, output);
                input = output;
            }
        }
    }

    private ReadOnlySpan<float> W(int layer) => _weights.AsSpan(_weightSlots[layer].Offset, _weightSlots[layer].Length);

    private Span<float> G(ParameterSlot slot) => _gradients.AsSpan(slot.Offset, slot.Length);

    private int CheckRows(ReadOnlySpan<float> features, int rows)
    {
        if (features.Length != rows * InputSize)
            throw new ArgumentException($"{Description}: {features.Length} feature values are not {rows} rows of {InputSize}");
        return rows;
    }

    // Scratch grows to the largest batch seen, so steady-state training allocates nothing.
    private void EnsureCapacity(int rows)
    {
        if (rows <= _capacity) return;
        for (int l = 0; l < _activations.Length; l++)
        {
            _activations[l] = new float[rows * _sizes[l + 1]];
            _deltas[l] = new float[rows * _sizes[l + 1]];
        }
        _logits = new float[rows];
        _dlogits = new float[rows];
        _scratch = new float[rows];
        _capacity = rows;
    }
}
