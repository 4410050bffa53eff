using System.Collections;
using System.Numerics.Tensors;

namespace Cohort.Parameters;

/// <summary>
/// Ordered, named tensors: the model state that travels between server and nodes, and the only
/// thing that leaves a site.
/// </summary>
public sealed class ParameterSet : IReadOnlyList<Tensor>
{
    private readonly Tensor[] _tensors;
    private readonly Dictionary<string, int> _index;

    /// <summary>Creates a set; names must be unique.</summary>
    public ParameterSet(IEnumerable<Tensor> tensors)
    {
        _tensors = tensors.ToArray();
        _index = new Dictionary<string, int>(_tensors.Length, StringComparer.Ordinal);
        for (int i = 0; i < _tensors.Length; i++)
        {
            if (!_index.TryAdd(_tensors[i].Name, i))
                throw new ArgumentException($"duplicate tensor name '{_tensors[i].Name}' in parameter set");
        }
    }

    /// <summary>A set with no tensors.</summary>
    public static ParameterSet Empty { get; } = new(Array.Empty<Tensor>());

    /// <inheritdoc />
    public Tensor this[int index] => _tensors[index];

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    public Tensor this[string name] => _index.TryGetValue(name, out int i)
        ? _tensors[i]
        : throw new KeyNotFoundException($"parameter set has no tensor named '{name}'");

    /// <summary>True when a tensor of that name exists.</summary>
    public bool Contains(string name) => _index.ContainsKey(name);

    /// <inheritdoc />
    public int Count => _tensors.Length;

    /// <summary>Total bytes of tensor data.</summary>
    public long ByteCount
    {
        get
        {
            long n = 0;
            foreach (var t in _tensors) n += t.Data.LongLength;
            return n;
        }
    }

    /// <summary>Total number of elements.</summary>
    public long ElementCount
    {
        get
        {
            long n = 0;
            foreach (var t in _tensors) n += t.Count;
            return n;
        }
    }

    /// <summary>A deep copy.</summary>
    public ParameterSet Clone() => new(_tensors.Select(t => t.Clone()));

    /// <summary>A zero-filled set with the same names, dtypes and shapes.</summary>
    public ParameterSet ZerosLike() => new(_tensors.Select(t => Tensor.Zeros(t.Name, t.DType, (int[])t.Shape.Clone())));

    /// <summary>
    /// Checks that <paramref name="other"/> has exactly this set's tensors (names, order, dtypes,
    /// shapes) and, for float tensors, only finite values. Returns null when it does, else the reason.
    /// </summary>
    public string? FindMismatch(ParameterSet other)
    {
        if (other.Count != Count)
            return $"expected {Count} tensors, got {other.Count}";
        for (int i = 0; i < _tensors.Length; i++)
        {
            var expected = _tensors[i];
            var actual = other[i];
            if (!expected.HasSameSpec(actual))
                return $"tensor {i}: expected {expected.Spec}, got {actual.Spec}";
        }
        return other.FindNonFinite();
    }

    /// <summary>Returns the first tensor holding NaN or infinity, described, or null.</summary>
    public string? FindNonFinite()
    {
        foreach (var t in _tensors)
        {
            if (t.DType == DType.Float32)
            {
                if (!AllFinite(t.AsFloat32())) return $"tensor '{t.Name}' holds NaN or infinity";
            }
            else if (t.DType == DType.Float64)
            {
                foreach (double v in t.AsFloat64())
                    if (!double.IsFinite(v)) return $"tensor '{t.Name}' holds NaN or infinity";
            }
        }
        return null;
    }

    /// <summary>True when every value is finite.</summary>
    internal static bool AllFinite(ReadOnlySpan<float> span)
    {
        // x - x is 0 for finite x and NaN for NaN or infinity; summing those exposes any non-finite value.
        const int Block = 4096;
        Span<float> scratch = stackalloc float[Block];
        for (int i = 0; i < span.Length; i += Block)
        {
            var slice = span.Slice(i, Math.Min(Block, span.Length - i));
            var s = scratch[..slice.Length];
            TensorPrimitives.Subtract(slice, slice, s);
            if (float.IsNaN(TensorPrimitives.Sum<float>(s))) return false;
        }
        return true;
    }

    /// <summary>True when every value is finite.</summary>
    internal static bool AllFinite(ReadOnlySpan<double> span)
    {
        foreach (double v in span)
            if (!double.IsFinite(v)) return false;
        return true;
    }

    /// <inheritdoc />
    public IEnumerator<Tensor> GetEnumerator() => ((IEnumerable<Tensor>)_tensors).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _tensors.GetEnumerator();
}
