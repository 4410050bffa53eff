namespace Cohort.Learning.Nn.Layers;

/// <summary>
/// Inverted dropout: while training, each value is zeroed with probability p and the survivors are
/// scaled by 1/(1−p), so evaluation is the identity. Masks come from a generator seeded by
/// <see cref="Sequential.Reseed"/>, so a seeded training run is reproducible.
/// </summary>
public sealed class Dropout : Layer
{
    private float[] _mask = [];
    private Random _random = new(0);

    /// <summary>Creates a dropout layer with drop probability <paramref name="probability"/> in [0, 1).</summary>
    public Dropout(string name, double probability) : base(name)
    {
        if (!(probability >= 0 && probability < 1)) throw new ArgumentOutOfRangeException(nameof(probability), probability, "dropout probability must lie in [0, 1)");
        Probability = probability;
    }

    /// <summary>Probability of zeroing a value.</summary>
    public double Probability { get; }

    /// <inheritdoc />
    public override string Describe() => $"Dropout({Probability})";

    /// <inheritdoc />
    protected override int[] ComputeOutputShape(int[] inputShape) => inputShape;

    internal override void Reseed(int seed) => _random = new Random(seed);

    internal override void Reserve(int batch) => Ensure(ref _mask, (long)batch * InputSize);

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, bool training)
    {
        int n = batch * InputSize;
        if (!training || Probability == 0)
        {
            x[..n].CopyTo(y);
            return;
        }
        Ensure(ref _mask, n);
        float keep = (float)(1 / (1 - Probability));
        for (int i = 0; i < n; i++)
        {
            float m = _random.NextDouble() < Probability ? 0 : keep;
            _mask[i] = m;
            y[i] = x[i] * m;
        }
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch)
    {
        if (dx.IsEmpty) return;
        int n = batch * InputSize;
        if (Probability == 0) dy[..n].CopyTo(dx);
        else System.Numerics.Tensors.TensorPrimitives.Multiply(dy[..n], _mask.AsSpan(0, n), dx);
    }
}
