namespace Cohort.Learning.Nn.Layers;

/// <summary>
/// One stage of a <see cref="Sequential"/> network. A layer works on whole batches laid out
/// example after example (NCHW for images); its parameters live in the network's flat buffers at
/// the offset the network gives it, so an optimiser updates every layer in one pass. Layers keep
/// scratch buffers sized for the largest batch seen and are not thread-safe.
/// </summary>
public abstract class Layer
{
    private float[] _weights = [];
    private float[] _gradients = [];
    private int _offset;

    /// <summary>Creates a layer whose parameters are named "<paramref name="name"/>.weight" and so on.</summary>
    protected Layer(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("a layer needs a name", nameof(name));
        Name = name;
    }

    /// <summary>The prefix of the layer's parameter names, e.g. "conv1".</summary>
    public string Name { get; }

    /// <summary>The shape of one input example, known once the layer is bound into a network.</summary>
    public int[] InputShape { get; private set; } = [];

    /// <summary>The shape of one output example, known once the layer is bound into a network.</summary>
    public int[] OutputShape { get; private set; } = [];

    /// <summary>Values per input example.</summary>
    public int InputSize { get; private set; }

    /// <summary>Values per output example.</summary>
    public int OutputSize { get; private set; }

    /// <summary>Worker threads the layer's kernels may use.</summary>
    public int Threads { get; internal set; } = 1;

    /// <summary>Short description, e.g. "Conv2d(1→32, 5×5, stride 1, padding 2)".</summary>
    public abstract string Describe();

    /// <summary>The layer's parameter tensors (full names, e.g. "fc1.weight"), in order; empty for none.</summary>
    public virtual IReadOnlyList<(string Name, int[] Shape)> ParameterShapes => [];

    /// <summary>True when the output may share the input's buffer (the layer only rewrites values in place or reshapes).</summary>
    internal virtual bool InPlace => false;

    /// <summary>This layer's parameters within the network's buffer.</summary>
    protected Span<float> Weights => _weights.AsSpan(_offset, ParameterCount);

    /// <summary>This layer's gradients within the network's buffer.</summary>
    protected Span<float> Gradients => _gradients.AsSpan(_offset, ParameterCount);

    /// <summary>Number of parameters.</summary>
    public int ParameterCount { get; private set; }

    /// <summary>Checks the input shape and returns the output shape; called once when a network is built.</summary>
    protected abstract int[] ComputeOutputShape(int[] inputShape);

    internal int[] Bind(int[] inputShape)
    {
        InputShape = (int[])inputShape.Clone();
        InputSize = Product(inputShape);
        OutputShape = ComputeOutputShape(InputShape);
        OutputSize = Product(OutputShape);
        int count = 0;
        foreach (var (_, shape) in ParameterShapes) count += Product(shape);
        ParameterCount = count;
        return OutputShape;
    }

    internal void Attach(float[] weights, float[] gradients, int offset)
    {
        _weights = weights;
        _gradients = gradients;
        _offset = offset;
    }

    /// <summary>Draws initial parameters from <paramref name="random"/> by <paramref name="scheme"/>; parameter-free layers do nothing.</summary>
    internal virtual void Initialize(Random random, WeightInit scheme)
    {
    }

    /// <summary>Reseeds any randomness the layer uses while training (dropout masks).</summary>
    internal virtual void Reseed(int seed)
    {
    }

    /// <summary>Grows scratch buffers to hold <paramref name="batch"/> examples.</summary>
    internal virtual void Reserve(int batch)
    {
    }

    /// <summary>Computes y [batch × OutputSize] from x [batch × InputSize]; x and y may be the same memory for in-place layers.</summary>
    internal abstract void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, bool training);

    /// <summary>
    /// Sets this layer's parameter gradients from the output gradient dy and, unless dx is empty,
    /// writes the input gradient dx. x and y are what the last forward pass saw and produced.
    /// </summary>
    internal abstract void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch);

    /// <summary>"[32,14,14]".</summary>
    protected static string Shape(int[] shape) => $"[{string.Join(",", shape)}]";

    /// <summary>An error about the input shape, naming the layer.</summary>
    protected ArgumentException ShapeError(int[] input, string expected) =>
        new($"layer '{Name}' ({Describe()}) cannot take input {Shape(input)}: expected {expected}");

    /// <summary>Grows <paramref name="buffer"/> to at least <paramref name="size"/> elements.</summary>
    protected static void Ensure<T>(ref T[] buffer, long size)
    {
        if (buffer.LongLength < size) buffer = new T[size];
    }

    private static int Product(int[] shape)
    {
        long p = 1;
        foreach (int d in shape) p *= d;
        return checked((int)p);
    }
}
