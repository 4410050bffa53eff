using Cohort.Parameters;

namespace Cohort.Learning.Models;

/// <summary>One named tensor's place in a model's flat float32 parameter buffer.</summary>
/// <param name="Name">Tensor name, e.g. "linear.weight".</param>
/// <param name="Shape">Tensor shape.</param>
/// <param name="Offset">First element in the flat buffer.</param>
/// <param name="Length">Number of elements.</param>
public sealed record ParameterSlot(string Name, int[] Shape, int Offset, int Length)
{
    /// <summary>"linear.weight float32[1,13]".</summary>
    public string Spec => $"{Name} float32[{string.Join(",", Shape)}]";
}

/// <summary>
/// Maps a model's named tensors onto one flat float32 buffer, so optimisers update every parameter
/// with single vectorised passes, and converts that buffer to and from a <see cref="ParameterSet"/>.
/// </summary>
public sealed class ParameterLayout
{
    private readonly ParameterSlot[] _slots;

    /// <summary>Lays out the tensors in the given order.</summary>
    public ParameterLayout(IEnumerable<(string Name, int[] Shape)> tensors)
    {
        var slots = new List<ParameterSlot>();
        int offset = 0;
        foreach (var (name, shape) in tensors)
        {
            int length = checked((int)Tensor.ElementCount(shape, name));
            slots.Add(new ParameterSlot(name, shape, offset, length));
            offset = checked(offset + length);
        }
        _slots = slots.ToArray();
        Size = offset;
    }

    /// <summary>The tensors, in order.</summary>
    public IReadOnlyList<ParameterSlot> Slots => _slots;

    /// <summary>Total number of parameters.</summary>
    public int Size { get; }

    /// <summary>A parameter set holding a copy of <paramref name="flat"/>.</summary>
    public ParameterSet ToParameterSet(ReadOnlySpan<float> flat)
    {
        if (flat.Length != Size) throw new ArgumentException($"expected {Size} parameters, got {flat.Length}");
        var tensors = new Tensor[_slots.Length];
        for (int i = 0; i < _slots.Length; i++)
        {
            var s = _slots[i];
            tensors[i] = Tensor.FromFloat32(s.Name, (int[])s.Shape.Clone(), flat.Slice(s.Offset, s.Length));
        }
        return new ParameterSet(tensors);
    }

    /// <summary>
    /// Copies <paramref name="parameters"/> into <paramref name="flat"/> after checking that it holds
    /// exactly this layout's tensors (names, float32, shapes); the error names <paramref name="model"/>
    /// and the offending tensor.
    /// </summary>
    public void Load(ParameterSet parameters, Span<float> flat, string model)
    {
        if (flat.Length != Size) throw new ArgumentException($"expected a buffer of {Size} parameters, got {flat.Length}");
        foreach (var s in _slots)
        {
            if (!parameters.Contains(s.Name))
                throw new ArgumentException($"parameters do not fit {model}: missing tensor '{s.Name}' (expected {Describe()}; got {Describe(parameters)})");
            var t = parameters[s.Name];
            if (t.DType != DType.Float32 || !t.Shape.AsSpan().SequenceEqual(s.Shape))
                throw new ArgumentException($"parameters do not fit {model}: expected {s.Spec}, got {t.Spec}");
        }
        if (parameters.Count != _slots.Length)
            throw new ArgumentException($"parameters do not fit {model}: expected {Describe()}; got {Describe(parameters)}");
        foreach (var s in _slots)
            parameters[s.Name].AsFloat32().CopyTo(flat.Slice(s.Offset, s.Length));
    }

    /// <summary>"linear.weight float32[1,13], linear.bias float32[1]".</summary>
    public string Describe() => string.Join(", ", _slots.Select(s => s.Spec));

    private static string Describe(ParameterSet p) => p.Count == 0 ? "no tensors" : string.Join(", ", p.Select(t => t.Spec));
}
