using System.Numerics.Tensors;
using Cohort.Learning.Nn.Kernels;

namespace Cohort.Learning.Nn.Layers;

/// <summary>
/// Fully connected layer y = x·Wᵀ + b, with PyTorch's layout: "NAME.weight" [out, in] and
/// "NAME.bias" [out]. Any input shape is taken as a flat vector of its values.
/// </summary>
public sealed class Linear : Layer
{
    /// <summary>Creates a layer from <paramref name="inputs"/> to <paramref name="outputs"/> values.</summary>
    public Linear(string name, int inputs, int outputs) : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        Inputs = inputs;
        Outputs = outputs;
    }

    /// <summary>Input features.</summary>
    public int Inputs { get; }

    /// <summary>Output features.</summary>
    public int Outputs { get; }

    /// <inheritdoc />
    public override string Describe() => $"Linear({Inputs}→{Outputs})";

    /// <inheritdoc />
    public override IReadOnlyList<(string Name, int[] Shape)> ParameterShapes =>
        [($"{Name}.weight", [Outputs, Inputs]), ($"{Name}.bias", [Outputs])];

    /// <inheritdoc />
    protected override int[] ComputeOutputShape(int[] inputShape)
    {
        long size = 1;
        foreach (int d in inputShape) size *= d;
        if (size != Inputs) throw ShapeError(inputShape, $"{Inputs} values per example (add a Flatten before it for images)");
        return [Outputs];
    }

    internal override void Initialize(Random random, WeightInit scheme)
    {
        var w = Weights;
        WeightInitializer.Fill(w[..(Inputs * Outputs)], w[(Inputs * Outputs)..], Inputs, Outputs, scheme, random);
    }

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, bool training)
    {
        var w = Weights;
        var bias = w[(Inputs * Outputs)..];
        for (int i = 0; i < batch; i++) bias.CopyTo(y.Slice(i * Outputs, Outputs));
        Gemm.Multiply(false, true, batch, Outputs, Inputs, x, Inputs, w, Inputs, y, Outputs, accumulate: true, Threads);
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch)
    {
        var g = Gradients;
        int wCount = Inputs * Outputs;
        // dW = dYᵀ·X, db = Σ rows of dY, dX = dY·W.
        Gemm.Multiply(true, false, Outputs, Inputs, batch, dy, Outputs, x, Inputs, g, Inputs, accumulate: false, Threads);
        var gb = g[wCount..];
        dy[..Outputs].CopyTo(gb);
        for (int i = 1; i < batch; i++) TensorPrimitives.Add(gb, dy.Slice(i * Outputs, Outputs), gb);
        if (!dx.IsEmpty)
            Gemm.Multiply(false, false, batch, Inputs, Outputs, dy, Outputs, Weights, Inputs, dx, Inputs, accumulate: false, Threads);
    }
}
