using System.Security.Cryptography;
using Cohort.Parameters;
using Cohort.Transport.V1;

namespace Cohort.Transport.Codec;

/// <summary>
/// Rebuilds a <see cref="ParameterSet"/> from a manifest and its chunks, checking every step: known
/// dtypes, sizes within a limit, chunks contiguous and in order, total size and SHA-256 at the end.
/// Memory is allocated once, from the manifest and only after all of it checked out; each chunk is
/// copied once, into place.
/// </summary>
public sealed class ParameterAssembler : IDisposable
{
    private readonly Tensor[] _tensors;
    private readonly long[] _starts;
    private readonly long _total;
    private readonly byte[] _expectedHash;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _received;
    private int _current;

    /// <summary>Validates the manifest and allocates the tensors; throws <see cref="InvalidDataException"/> when it is unusable.</summary>
    public ParameterAssembler(ParameterManifest manifest, long maxBytes = long.MaxValue)
    {
        if (manifest.Sha256.Length != 32) throw new InvalidDataException("parameter manifest lacks a SHA-256");
        _expectedHash = manifest.Sha256.ToByteArray();
        // Validate the whole manifest before allocating anything: a manifest over the limit, with a
        // duplicate name or a total that disagrees must not cost the receiver memory.
        var shapes = new int[manifest.Tensors.Count][];
        var sizes = new long[manifest.Tensors.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        _starts = new long[manifest.Tensors.Count];
        long total = 0;
        for (int i = 0; i < manifest.Tensors.Count; i++)
        {
            var spec = manifest.Tensors[i];
            var dtype = (Parameters.DType)(int)spec.Dtype;
            if (string.IsNullOrEmpty(spec.Name)) throw new InvalidDataException($"tensor {i} has no name");
            if (!names.Add(spec.Name)) throw new InvalidDataException($"duplicate tensor name '{spec.Name}' in parameter manifest");
            if (!DTypes.IsKnown(dtype)) throw new InvalidDataException($"tensor '{spec.Name}': unknown dtype {(int)spec.Dtype}");
            var shape = new int[spec.Shape.Count];
            for (int d = 0; d < shape.Length; d++)
            {
                long dim = spec.Shape[d];
                if (dim < 0 || dim > int.MaxValue) throw new InvalidDataException($"tensor '{spec.Name}': dimension {dim} out of range");
                shape[d] = (int)dim;
            }
            long bytes;
            try
            {
                bytes = checked(Tensor.ElementCount(shape, spec.Name) * dtype.Size());
            }
            catch (OverflowException)
            {
                throw new InvalidDataException($"tensor '{spec.Name}': shape too large");
            }
            if (bytes > Array.MaxLength) throw new InvalidDataException($"tensor '{spec.Name}': {bytes} bytes exceeds the largest single tensor");
            _starts[i] = total;
            total += bytes;
            if (total > maxBytes) throw new InvalidDataException($"parameters exceed the limit of {maxBytes} bytes");
            shapes[i] = shape;
            sizes[i] = bytes;
        }
        if (total != manifest.TotalBytes) throw new InvalidDataException($"manifest says {manifest.TotalBytes} bytes but its tensors hold {total}");

        _tensors = new Tensor[manifest.Tensors.Count];
        for (int i = 0; i < _tensors.Length; i++)
        {
            var spec = manifest.Tensors[i];
            _tensors[i] = new Tensor(spec.Name, (Parameters.DType)(int)spec.Dtype, shapes[i], new byte[sizes[i]]);
        }
        _total = total;
        SkipEmptyTensors();
    }

    /// <summary>Tensor specs announced by the manifest (data still arriving).</summary>
    public IReadOnlyList<Tensor> Tensors => _tensors;

    /// <summary>True once every byte has arrived.</summary>
    public bool IsComplete => _received == _total;

    /// <summary>Copies one chunk into place.</summary>
    public void Add(ParameterChunk chunk)
    {
        if (chunk.Offset != _received) throw new InvalidDataException($"chunk at offset {chunk.Offset}, expected {_received}");
        var data = chunk.Data.Span;
        if (data.Length == 0) throw new InvalidDataException($"empty chunk at offset {chunk.Offset}");
        if (_received + data.Length > _total) throw new InvalidDataException($"chunk at offset {chunk.Offset} runs past the announced {_total} bytes");
        while (!data.IsEmpty)
        {
            var t = _tensors[_current];
            int within = (int)(_received - _starts[_current]);
            int n = Math.Min(data.Length, t.Data.Length - within);
            data[..n].CopyTo(t.Data.AsSpan(within));
            _hash.AppendData(data[..n]);
            data = data[n..];
            _received += n;
            if (within + n == t.Data.Length)
            {
                _current++;
                SkipEmptyTensors();
            }
        }
    }

    /// <summary>The parameters, once complete and verified.</summary>
    public ParameterSet Complete()
    {
        if (!IsComplete) throw new InvalidDataException($"parameters incomplete: {_received} of {_total} bytes arrived");
        if (!_hash.GetHashAndReset().AsSpan().SequenceEqual(_expectedHash)) throw new InvalidDataException("parameter checksum mismatch (corrupted in transit)");
        return new ParameterSet(_tensors);
    }

    private void SkipEmptyTensors()
    {
        while (_current < _tensors.Length && _tensors[_current].Data.Length == 0) _current++;
    }

    /// <inheritdoc />
    public void Dispose() => _hash.Dispose();
}
