namespace Cohort.Parameters;

/// <summary>One tensor of <see cref="StoredTensors"/>: its spec and where its bytes start in the storage.</summary>
/// <param name="Name">Name, unique within its set.</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions, outermost first.</param>
/// <param name="Position">Byte position of its first value in the storage.</param>
internal sealed record StoredTensor(string Name, DType DType, int[] Shape, long Position)
{
    /// <summary>Bytes of data.</summary>
    public long ByteCount => Tensor.ElementCount(Shape, Name) * DType.Size();

    /// <summary>True when name, dtype and shape equal <paramref name="other"/>'s.</summary>
    public bool HasSameSpec(Tensor other) => Name == other.Name && DType == other.DType && Shape.AsSpan().SequenceEqual(other.Shape);
}
