using Cohort.Parameters;

namespace Cohort.Learning.Models;

/// <summary>
/// Logistic regression σ(w·x + b), FLamby's Fed-Heart-Disease baseline. Parameters: "linear.weight"
/// [1, inputs] and "linear.bias" [1], as PyTorch's nn.Linear(inputs, 1) names them.
/// </summary>
public sealed class LogisticRegression : IModel
{
    private readonly float[] _weights;
    private readonly float[] _gradients;
    private float[] _logits = [];
    private float[] _dlogits = [];
    private float[] _scratch = [];

    /// <summary>Creates a model with all parameters zero.</summary>
    public LogisticRegression(int inputSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        InputSize = inputSize;
        Layout = new ParameterLayout([("linear.weight", [1, inputSize]), ("linear.bias", [1])]);
        _weights = new float[Layout.Size];
        _gradients = new float[Layout.Size];
    }

    /// <inheritdoc />
    public string Description => $"logistic({InputSize})";

    /// <inheritdoc />
    public int InputSize { get; }

    /// <inheritdoc />
    public ParameterLayout Layout { get; }

    /// <inheritdoc />
    public Span<float> Weights => _weights;

    /// <inheritdoc />
    public Span<float> Gradients => _gradients;

    /// <summary>Zeros: the loss is convex, so no symmetry needs breaking and zero is the reproducible start.</summary>
    public void Initialize(int seed) => Array.Clear(_weights);

    /// <summary>
    /// PyTorch's default nn.Linear start, weight and bias drawn from U(±1/√inputs) with a seeded
    /// generator: the initial model FLamby's Fed-Heart-Disease benchmark trains from.
    /// </summary>
    public void InitializeLikeTorch(int seed) =>
        Nn.WeightInitializer.Fill(_weights.AsSpan(0, InputSize), _weights.AsSpan(InputSize, 1), InputSize, 1, Nn.WeightInit.Torch, new Random(seed));

    /// <inheritdoc />
    public ParameterSet GetParameters() => Layout.ToParameterSet(_weights);

    /// <inheritdoc />
    public void SetParameters(ParameterSet parameters) => Layout.Load(parameters, _weights, Description);

    /// <inheritdoc />
    public void Forward(ReadOnlySpan<float> features, Span<float> logits)
    {
        int n = CheckRows(features, logits.Length);
        DenseKernels.Forward(features, InputSize, _weights.AsSpan(0, InputSize), _weights.AsSpan(InputSize, 1), logits[..n]);
    }

    /// <inheritdoc />
    public float ComputeGradients(ReadOnlySpan<float> features, ReadOnlySpan<float> labels) => ComputeGradients(features, labels, BinaryLoss.CrossEntropy);

    /// <inheritdoc />
    public float ComputeGradients(ReadOnlySpan<float> features, ReadOnlySpan<float> labels, BinaryLoss loss)
    {
        int n = CheckRows(features, labels.Length);
        Ensure(ref _logits, n);
        Ensure(ref _dlogits, n);
        Ensure(ref _scratch, n);
        var z = _logits.AsSpan(0, n);
        Forward(features, z);
        float value = loss.Compute(z, labels, _dlogits, _scratch);
        Array.Clear(_gradients);
        DenseKernels.Backward(features, InputSize, _weights.AsSpan(0, InputSize), _dlogits.AsSpan(0, n),
            _gradients.AsSpan(0, InputSize), _gradients.AsSpan(InputSize, 1), Span<float>.Empty);
        return value;
    }

    private int CheckRows(ReadOnlySpan<float> features, int rows)
    {
        if (features.Length != rows * InputSize)
            throw new ArgumentException($"{Description}: {features.Length} feature values are not {rows} rows of {InputSize}");
        return rows;
    }

    private static void Ensure(ref float[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new float[size];
    }
}
