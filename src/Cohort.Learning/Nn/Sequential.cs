using Cohort.Learning.Models;
using Cohort.Learning.Nn.Layers;
using Cohort.Parameters;

namespace Cohort.Learning.Nn;

/// <summary>
/// A feed-forward network: layers applied in order to batches of examples of a fixed shape. All
/// parameters live in one flat buffer (<see cref="Weights"/>, with <see cref="Gradients"/> beside
/// it) whose named tensors map one-to-one onto a <see cref="ParameterSet"/> ("conv1.weight"
/// [32,1,5,5], …), so optimisers and federated aggregation see the same numbers. Activations and
/// scratch grow to the largest batch seen and are then reused: steady-state training allocates no
/// buffers. Not thread-safe; use one instance per concurrent task.
/// </summary>
public sealed class Sequential
{
    private readonly Layer[] _layers;
    private readonly float[][] _activations; // [i] is layer i's input; [count] the output
    private readonly float[][] _deltas;       // gradients of the same
    private readonly int[] _sizes;
    private int _threads;
    private int _capacity;
    private long[] _forwardTicks = [];
    private long[] _backwardTicks = [];

    /// <summary>Builds a network for examples of <paramref name="inputShape"/>; throws naming the layer whose input does not fit.</summary>
    public Sequential(string name, int[] inputShape, params Layer[] layers)
    {
        if (layers.Length == 0) throw new ArgumentException("a network needs at least one layer", nameof(layers));
        Name = name;
        InputShape = (int[])inputShape.Clone();
        _layers = layers;
        _sizes = new int[layers.Length + 1];
        var shape = InputShape;
        _sizes[0] = checked((int)Tensor.ElementCount(shape, "input"));
        var names = new HashSet<string>(StringComparer.Ordinal);
        var tensors = new List<(string, int[])>();
        for (int i = 0; i < layers.Length; i++)
        {
            shape = layers[i].Bind(shape);
            _sizes[i + 1] = layers[i].OutputSize;
            foreach (var t in layers[i].ParameterShapes)
            {
                if (!names.Add(t.Name)) throw new ArgumentException($"network '{name}': two layers name a parameter '{t.Name}'; give the layers distinct names");
                tensors.Add(t);
            }
        }
        OutputShape = shape;
        Layout = new ParameterLayout(tensors);
        Weights = new float[Layout.Size];
        Gradients = new float[Layout.Size];
        int offset = 0;
        foreach (var layer in layers)
        {
            layer.Attach(Weights, Gradients, offset);
            offset += layer.ParameterCount;
        }
        _activations = new float[layers.Length + 1][];
        _deltas = new float[layers.Length + 1][];
        for (int i = 0; i <= layers.Length; i++) _activations[i] = _deltas[i] = [];
        Threads = Environment.ProcessorCount;
    }

    /// <summary>Name for messages, e.g. "cnn".</summary>
    public string Name { get; }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>Shape of one input example, e.g. [1, 28, 28].</summary>
    public int[] InputShape { get; }

    /// <summary>Shape of one output example, e.g. [10].</summary>
    public int[] OutputShape { get; }

    /// <summary>Values per input example.</summary>
    public int InputSize => _sizes[0];

    /// <summary>Values per output example.</summary>
    public int OutputSize => _sizes[^1];

    /// <summary>Names and shapes of the parameter tensors, in order.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>Number of parameters.</summary>
    public int ParameterCount => Layout.Size;

    /// <summary>All parameters, laid out by <see cref="Layout"/>.</summary>
    public float[] Weights { get; }

    /// <summary>Gradients of the last <see cref="Backward"/>, laid out like <see cref="Weights"/>.</summary>
    public float[] Gradients { get; }

    /// <summary>Worker threads the kernels may use (default: all cores). Results do not depend on it.</summary>
    public int Threads
    {
        get => _threads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _threads = value;
            foreach (var layer in _layers) layer.Threads = value;
        }
    }

    /// <summary>When true, forward and backward time is summed per layer (see <see cref="LayerTimes"/>).</summary>
    public bool Timing
    {
        get => _forwardTicks.Length > 0;
        set
        {
            _forwardTicks = value ? new long[_layers.Length] : [];
            _backwardTicks = value ? new long[_layers.Length] : [];
        }
    }

    /// <summary>Seconds spent in each layer's forward and backward pass since <see cref="Timing"/> was switched on.</summary>
    public IReadOnlyList<(string Layer, double Forward, double Backward)> LayerTimes()
    {
        var times = new List<(string, double, double)>();
        for (int i = 0; i < _layers.Length && Timing; i++)
            times.Add((_layers[i].Name, _forwardTicks[i] / (double)System.Diagnostics.Stopwatch.Frequency, _backwardTicks[i] / (double)System.Diagnostics.Stopwatch.Frequency));
        return times;
    }

    /// <summary>Sets the initial parameters from <paramref name="seed"/>: the same seed gives the same network everywhere.</summary>
    public void Initialize(int seed, WeightInit scheme = WeightInit.KaimingUniform)
    {
        var random = new Random(seed);
        foreach (var layer in _layers) layer.Initialize(random, scheme);
        Reseed(seed);
    }

    /// <summary>Reseeds the randomness used while training (dropout masks).</summary>
    public void Reseed(int seed)
    {
        for (int i = 0; i < _layers.Length; i++) _layers[i].Reseed(unchecked(seed * 31 + i));
    }

    /// <summary>A copy of the parameters as a parameter set.</summary>
    public ParameterSet GetParameters() => Layout.ToParameterSet(Weights);

    /// <summary>Loads parameters; throws naming the network and the tensor whose name, dtype or shape does not fit.</summary>
    public void SetParameters(ParameterSet parameters) => Layout.Load(parameters, Weights, $"network '{Name}'");

    /// <summary>Makes room for batches of up to <paramref name="batch"/> examples now rather than on first use.</summary>
    public void Reserve(int batch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (batch <= _capacity) return;
        for (int i = 0; i <= _layers.Length; i++)
        {
            // In-place layers share their input's buffers.
            if (i > 0 && _layers[i - 1].InPlace)
            {
                _activations[i] = _activations[i - 1];
                _deltas[i] = _deltas[i - 1];
                continue;
            }
            _activations[i] = new float[(long)batch * _sizes[i]];
            _deltas[i] = new float[(long)batch * _sizes[i]];
        }
        foreach (var layer in _layers) layer.Reserve(batch);
        _capacity = batch;
    }

    /// <summary>
    /// Runs <paramref name="batch"/> examples ([batch × InputSize]) through the network and returns the
    /// outputs ([batch × OutputSize], valid until the next call). <paramref name="training"/> enables dropout.
    /// </summary>
    public ReadOnlySpan<float> Forward(ReadOnlySpan<float> input, int batch, bool training = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (input.Length < batch * InputSize)
            throw new ArgumentException($"network '{Name}': {batch} examples need {batch * InputSize} input values, got {input.Length}");
        Reserve(batch);
        input[..(batch * InputSize)].CopyTo(_activations[0]);
        for (int i = 0; i < _layers.Length; i++)
        {
            long start = Timing ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            _layers[i].Forward(_activations[i].AsSpan(0, batch * _sizes[i]), _activations[i + 1].AsSpan(0, batch * _sizes[i + 1]), batch, training);
            if (Timing) _forwardTicks[i] += System.Diagnostics.Stopwatch.GetTimestamp() - start;
        }
        return _activations[^1].AsSpan(0, batch * OutputSize);
    }

    /// <summary>
    /// Back-propagates the gradient of the loss with respect to the last <see cref="Forward"/>'s
    /// outputs and sets <see cref="Gradients"/> (overwriting them).
    /// </summary>
    public void Backward(ReadOnlySpan<float> outputGradient, int batch)
    {
        if (batch > _capacity) throw new InvalidOperationException($"network '{Name}': backward of {batch} examples without a forward pass of that batch");
        if (outputGradient.Length < batch * OutputSize)
            throw new ArgumentException($"network '{Name}': {batch} examples need {batch * OutputSize} output gradients, got {outputGradient.Length}");
        var last = _deltas[^1].AsSpan(0, batch * OutputSize);
        if (!outputGradient.Overlaps(last)) outputGradient[..last.Length].CopyTo(last);
        for (int i = _layers.Length - 1; i >= 0; i--)
        {
            // The first layer's input gradient is never needed; skipping it saves a GEMM (and a col2im).
            bool needInput = i > 0 && NeedsInputGradient(i);
            var dx = needInput ? _deltas[i].AsSpan(0, batch * _sizes[i]) : Span<float>.Empty;
            long start = Timing ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            _layers[i].Backward(_activations[i].AsSpan(0, batch * _sizes[i]), _activations[i + 1].AsSpan(0, batch * _sizes[i + 1]),
                _deltas[i + 1].AsSpan(0, batch * _sizes[i + 1]), dx, batch);
            if (Timing) _backwardTicks[i] += System.Diagnostics.Stopwatch.GetTimestamp() - start;
        }
    }

    /// <summary>The buffer <see cref="Backward"/> reads the output gradient from, for losses that write it in place.</summary>
    public Span<float> OutputGradientBuffer(int batch)
    {
        Reserve(batch);
        return _deltas[^1].AsSpan(0, batch * OutputSize);
    }

    // Any layer before i with parameters needs the gradient to flow through.
    private bool NeedsInputGradient(int i)
    {
        for (int j = 0; j < i; j++)
            if (_layers[j].ParameterCount > 0) return true;
        return false;
    }

    /// <summary>One line per layer with its output shape and parameter count.</summary>
    public string Summary()
    {
        var lines = new List<string> { $"{Name}: input [{string.Join(",", InputShape)}], {ParameterCount:N0} parameters" };
        foreach (var layer in _layers)
            lines.Add($"  {layer.Name,-8} {layer.Describe(),-44} → [{string.Join(",", layer.OutputShape)}]  {layer.ParameterCount:N0}");
        return string.Join(Environment.NewLine, lines);
    }
}
