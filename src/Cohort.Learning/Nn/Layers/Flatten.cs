namespace Cohort.Learning.Nn.Layers;

/// <summary>Views each example [C, H, W] as a vector of C·H·W values; moves no data.</summary>
public sealed class Flatten(string name = "flatten") : Layer(name)
{
    /// <inheritdoc />
    public override string Describe() => "Flatten";

    internal override bool InPlace => true;

    /// <inheritdoc />
    protected override int[] ComputeOutputShape(int[] inputShape)
    {
        long size = 1;
        foreach (int d in inputShape) size *= d;
        return [checked((int)size)];
    }

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, bool training)
    {
        if (!x.Overlaps(y)) x[..(batch * InputSize)].CopyTo(y);
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch)
    {
        if (!dx.IsEmpty && !dy.Overlaps(dx)) dy[..(batch * InputSize)].CopyTo(dx);
    }
}
