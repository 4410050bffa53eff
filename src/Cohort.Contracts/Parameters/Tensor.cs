using System.Runtime.InteropServices;

namespace Cohort.Parameters;

/// <summary>
/// One named tensor: shape, dtype and contiguous little-endian bytes. The byte buffer is owned by the
/// tensor; typed views (<see cref="AsFloat32"/>) are spans over the same memory, never copies.
/// </summary>
public sealed class Tensor
{
    /// <summary>Creates a tensor over <paramref name="data"/> (not copied).</summary>
    public Tensor(string name, DType dtype, int[] shape, byte[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!DTypes.IsKnown(dtype)) throw new ArgumentException($"tensor '{name}': unknown dtype {(int)dtype}");
        long count = ElementCount(shape, name);
        if (data.LongLength != count * dtype.Size())
            throw new ArgumentException($"tensor '{name}': {data.LongLength} bytes do not match shape [{string.Join(",", shape)}] of {dtype.Name()} ({count * dtype.Size()} bytes)");
        Name = name;
        DType = dtype;
        Shape = shape;
        Data = data;
    }

    /// <summary>Name, unique within a <see cref="ParameterSet"/> (e.g. "layer1.weight").</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Dimensions, outermost first; empty for a scalar.</summary>
    public int[] Shape { get; }

    /// <summary>Raw little-endian contents.</summary>
    public byte[] Data { get; }

    /// <summary>Number of elements.</summary>
    public long Count => Data.LongLength / DType.Size();

    /// <summary>A float32 view of the data.</summary>
    public Span<float> AsFloat32()
    {
        if (DType != DType.Float32) throw new InvalidOperationException($"tensor '{Name}' is {DType.Name()}, not float32");
        return MemoryMarshal.Cast<byte, float>(Data.AsSpan());
    }

    /// <summary>A float64 view of the data.</summary>
    public Span<double> AsFloat64()
    {
        if (DType != DType.Float64) throw new InvalidOperationException($"tensor '{Name}' is {DType.Name()}, not float64");
        return MemoryMarshal.Cast<byte, double>(Data.AsSpan());
    }

    /// <summary>A new float32 tensor holding a copy of <paramref name="values"/>.</summary>
    public static Tensor FromFloat32(string name, int[] shape, ReadOnlySpan<float> values)
    {
        var data = new byte[checked(values.Length * sizeof(float))];
        MemoryMarshal.AsBytes(values).CopyTo(data);
        return new Tensor(name, DType.Float32, shape, data);
    }

    /// <summary>A new zero-filled tensor.</summary>
    public static Tensor Zeros(string name, DType dtype, int[] shape) =>
        new(name, dtype, shape, new byte[checked(ElementCount(shape, name) * dtype.Size())]);

    /// <summary>A deep copy.</summary>
    public Tensor Clone() => new(Name, DType, (int[])Shape.Clone(), (byte[])Data.Clone());

    /// <summary>True when name, dtype and shape equal the other's.</summary>
    public bool HasSameSpec(Tensor other) =>
        Name == other.Name && DType == other.DType && Shape.AsSpan().SequenceEqual(other.Shape);

    /// <summary>"name float32[3,4]".</summary>
    public string Spec => $"{Name} {DType.Name()}[{string.Join(",", Shape)}]";

    /// <summary>Product of the dimensions; rejects negative dimensions.</summary>
    public static long ElementCount(ReadOnlySpan<int> shape, string name = "tensor")
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}': negative dimension {d}");
            count = checked(count * d);
        }
        return count;
    }

    /// <inheritdoc />
    public override string ToString() => Spec;
}
