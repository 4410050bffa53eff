namespace Cohort.Transport.Codec;

/// <summary>
/// Where each chunk of a parameter set lies: its tensor, its start within that tensor and its offset in
/// the whole set. Offsets over the set are 64-bit (a model may pass 2 GiB); a start within one tensor
/// fits an int, since a tensor is one array.
/// </summary>
internal static class ChunkPlan
{
    /// <summary>One chunk: <paramref name="Length"/> bytes of tensor <paramref name="Tensor"/> from <paramref name="Start"/>, at <paramref name="Offset"/> in the set.</summary>
    public readonly record struct Chunk(int Tensor, int Start, int Length, long Offset);

    /// <summary>The chunks of tensors of <paramref name="tensorBytes"/> bytes each, in order, none spanning two tensors.</summary>
    public static IEnumerable<Chunk> Of(IReadOnlyList<long> tensorBytes, int chunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        long offset = 0;
        for (int t = 0; t < tensorBytes.Count; t++)
        {
            long size = tensorBytes[t];
            if (size > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(tensorBytes), $"tensor {t}: {size} bytes are more than one array holds");
            // long: for a tensor near 2 GiB, start + chunkBytes would overflow int and wrap negative.
            for (long start = 0; start < size; start += chunkBytes)
                yield return new Chunk(t, (int)start, (int)Math.Min(chunkBytes, size - start), offset + start);
            offset += size;
        }
    }
}
