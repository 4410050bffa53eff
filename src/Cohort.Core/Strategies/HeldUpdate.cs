using System.Runtime.InteropServices;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// One node's update that a needs-every-update strategy holds until the round ends: in memory, or in
/// an unlinked spill file (a spooled upload kept as it was received, or an in-memory result written out
/// past the memory budget) that aggregation reads a chunk at a time. Disposing it releases the file.
/// </summary>
internal sealed class HeldUpdate : IDisposable
{
    private readonly ParameterSet? _parameters;
    private readonly SpooledParameters? _spilled;

    /// <summary>An update held in memory.</summary>
    public HeldUpdate(string node, ParameterSet parameters, long examples, Metrics metrics)
    {
        Node = node;
        _parameters = parameters;
        Examples = examples;
        Metrics = metrics;
    }

    /// <summary>An update held on disk; this takes ownership of <paramref name="spilled"/>.</summary>
    public HeldUpdate(string node, SpooledParameters spilled, long examples, Metrics metrics)
    {
        Node = node;
        _spilled = spilled;
        Examples = examples;
        Metrics = metrics;
    }

    /// <summary>The node that sent it.</summary>
    public string Node { get; }

    /// <summary>Training examples the node reported.</summary>
    public long Examples { get; }

    /// <summary>The node's fit metrics.</summary>
    public Metrics Metrics { get; }

    /// <summary>True when the update is read from a file.</summary>
    public bool OnDisk => _spilled is not null;

    /// <summary>The update in memory, or null when it is on disk.</summary>
    public ParameterSet? InMemory => _parameters;

    /// <summary>Bytes of tensor data.</summary>
    public long ByteCount => _parameters?.ByteCount ?? _spilled!.ByteCount;

    /// <summary>Number of tensors.</summary>
    public int Count => _parameters?.Count ?? _spilled!.Count;

    /// <summary>Element type of tensor <paramref name="tensor"/>.</summary>
    public DType DTypeOf(int tensor) => _parameters is { } p ? p[tensor].DType : _spilled!.DTypes[tensor];

    /// <summary>Elements of tensor <paramref name="tensor"/>.</summary>
    public int LengthOf(int tensor) => (int)((_parameters is { } p ? p[tensor].Data.LongLength : _spilled!.BytesOf(tensor)) / DTypeOf(tensor).Size());

    /// <summary>A zero-filled set shaped like this update (the output of a coordinate-wise or averaging pass).</summary>
    public ParameterSet ZerosLike() => _parameters is { } p
        ? p.ZerosLike()
        : new ParameterSet(Enumerable.Range(0, _spilled!.Count).Select(i => Tensor.Zeros(_spilled.Names[i], _spilled.DTypes[i], (int[])_spilled.Shapes[i].Clone())));

    /// <summary>Tensor <paramref name="tensor"/> whole (integer tensors, which aggregation copies rather than reduces).</summary>
    public Tensor TensorAt(int tensor) => _parameters is { } p ? p[tensor] : _spilled!.LoadTensor(tensor);

    /// <summary>
    /// Elements <paramref name="start"/>..+<paramref name="length"/> of tensor <paramref name="tensor"/>:
    /// a view of memory, or read from the file into <paramref name="scratch"/>.
    /// </summary>
    public ReadOnlySpan<T> Slice<T>(int tensor, int start, int length, Span<T> scratch) where T : unmanaged
    {
        if (_parameters is { } p) return ParameterMath.View<T>(p[tensor]).Slice(start, length);
        var destination = scratch[..length];
        _spilled!.Read(tensor, (long)start * Marshal.SizeOf<T>(), MemoryMarshal.AsBytes(destination));
        return destination;
    }

    /// <summary>Wraps in-memory sets (node names are their positions, which keeps their order).</summary>
    public static HeldUpdate[] Wrap(IReadOnlyList<ParameterSet> sets)
    {
        var held = new HeldUpdate[sets.Count];
        for (int i = 0; i < held.Length; i++) held[i] = new HeldUpdate(i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture), sets[i], 0, Metrics.Empty);
        return held;
    }

    /// <summary>Releases the spill file, if any.</summary>
    public void Dispose() => _spilled?.Dispose();
}
