namespace Cohort.Parameters;

/// <summary>
/// Named tensors kept in a file rather than in memory — a strategy's model-sized state, a large checkpoint
/// read back — read a range at a time, so that writing them out or copying them never holds them whole.
/// </summary>
internal sealed class StoredTensors
{
    private readonly StoredTensor[] _tensors;

    /// <summary>
    /// Tensors of <paramref name="storage"/> at the positions given; <paramref name="whenWritten"/> (kept by every
    /// view made with <see cref="Prefixed"/> or <see cref="Section"/>) is called once they have been written out
    /// and will not be read again.
    /// </summary>
    public StoredTensors(ITensorStorage storage, IEnumerable<StoredTensor> tensors, Action? whenWritten = null)
    {
        Storage = storage;
        _tensors = tensors.ToArray();
        WhenWritten = whenWritten;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in _tensors)
        {
            if (!names.Add(t.Name)) throw new ArgumentException($"duplicate tensor name '{t.Name}' in stored tensors");
        }
    }

    /// <summary>Where the bytes are.</summary>
    public ITensorStorage Storage { get; }

    /// <summary>The tensors, in order.</summary>
    public IReadOnlyList<StoredTensor> Tensors => _tensors;

    /// <summary>Called once the tensors have been written out (see the constructor); null when nobody waits for it.</summary>
    public Action? WhenWritten { get; }

    /// <summary>Total bytes of tensor data.</summary>
    public long ByteCount
    {
        get
        {
            long n = 0;
            foreach (var t in _tensors) n += t.ByteCount;
            return n;
        }
    }

    /// <summary>Fills <paramref name="destination"/> with tensor <paramref name="tensor"/>'s bytes from <paramref name="offset"/> on.</summary>
    public void Read(int tensor, long offset, Span<byte> destination)
    {
        var t = _tensors[tensor];
        if (offset < 0 || offset + destination.Length > t.ByteCount)
            throw new ArgumentOutOfRangeException(nameof(offset), $"tensor '{t.Name}': bytes {offset}..{offset + destination.Length} lie outside its {t.ByteCount}");
        Storage.Read(t.Position + offset, destination);
    }

    /// <summary>The same tensors, their names prefixed by <paramref name="prefix"/>.</summary>
    public StoredTensors Prefixed(string prefix) =>
        new(Storage, _tensors.Select(t => t with { Name = prefix + t.Name, Shape = (int[])t.Shape.Clone() }), WhenWritten);

    /// <summary>The tensors whose names start with <paramref name="prefix"/>, without it; null when there are none.</summary>
    public StoredTensors? Section(string prefix)
    {
        var section = _tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal))
            .Select(t => t with { Name = t.Name[prefix.Length..], Shape = (int[])t.Shape.Clone() })
            .ToArray();
        return section.Length == 0 ? null : new StoredTensors(Storage, section, WhenWritten);
    }

    /// <summary>The tensors, read into memory (for consumers that need every value at once).</summary>
    public ParameterSet Load() => new(_tensors.Select((t, i) =>
    {
        var data = GC.AllocateUninitializedArray<byte>(checked((int)t.ByteCount));
        Read(i, 0, data);
        return new Tensor(t.Name, t.DType, (int[])t.Shape.Clone(), data);
    }).ToArray());
}
