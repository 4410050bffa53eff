namespace Cohort.Strategies;

/// <summary>
/// The same chunk of one tensor across several held updates: in-memory updates are viewed in place,
/// updates on disk are read into a staging buffer of their own, so a pass over N updates holds N
/// chunks, not N models. In-memory and spilled updates go through the same passes, chunk for chunk,
/// which is why both give bit-identical aggregates.
/// </summary>
internal sealed class UpdateChunks<T> where T : unmanaged
{
    /// <summary>
    /// Elements per chunk: 1 MiB of float32 per update on disk. A multiple of the coordinate-wise tile
    /// (512) so tiles — and with them the vectorised and scalar coordinates — fall where they would in
    /// one pass over the whole tensor.
    /// </summary>
    public const int Length = 1 << 18;

    private readonly IReadOnlyList<HeldUpdate> _updates;
    private readonly T[]?[] _staged;
    private int _tensor;
    private int _start;

    /// <summary>Chunks over <paramref name="updates"/>.</summary>
    public UpdateChunks(IReadOnlyList<HeldUpdate> updates)
    {
        _updates = updates;
        _staged = new T[]?[updates.Count];
        for (int k = 0; k < updates.Count; k++)
            if (updates[k].OnDisk) _staged[k] = GC.AllocateUninitializedArray<T>(Length);
    }

    /// <summary>Number of updates.</summary>
    public int Count => _updates.Count;

    /// <summary>Makes elements <paramref name="start"/>..+<paramref name="length"/> of tensor <paramref name="tensor"/> current, reading the spilled ones.</summary>
    public void Load(int tensor, int start, int length)
    {
        _tensor = tensor;
        _start = start;
        for (int k = 0; k < _updates.Count; k++)
            if (_staged[k] is { } staged) _updates[k].Slice(tensor, start, length, staged.AsSpan());
    }

    /// <summary>Update <paramref name="k"/>'s elements <paramref name="offset"/>..+<paramref name="length"/> of the current chunk.</summary>
    public ReadOnlySpan<T> Get(int k, int offset, int length) => _staged[k] is { } staged
        ? staged.AsSpan(offset, length)
        : _updates[k].Slice<T>(_tensor, _start + offset, length, default);
}
