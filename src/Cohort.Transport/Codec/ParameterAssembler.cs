using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Cohort.Parameters;
using Cohort.Transport.V1;

namespace Cohort.Transport.Codec;

/// <summary>
/// Rebuilds a <see cref="ParameterSet"/> from a manifest and its chunks, checking every step: known
/// dtypes, sizes within a limit, chunks contiguous and in order, total size and SHA-256 at the end.
/// Bytes land in native staging buffers reserved per tensor when its first byte arrives (pages become
/// resident only as they are written) and freed on <see cref="Dispose"/>, so a stream that is rejected
/// or abandoned gives its memory back at once instead of leaving it to a later garbage collection;
/// only a complete, verified set is copied into managed tensors.
/// </summary>
internal sealed unsafe class ParameterAssembler : IDisposable
{
    private readonly string[] _names;
    private readonly Parameters.DType[] _dtypes;
    private readonly int[][] _shapes;
    private readonly long[] _sizes;
    private readonly long[] _starts;
    private readonly byte*[] _staging;
    private readonly long _total;
    private readonly byte[] _expectedHash;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _received;
    private int _current;
    private bool _disposed;

    /// <summary>Validates the manifest; throws <see cref="InvalidDataException"/> when it is unusable. Allocates nothing for the data yet.</summary>
    public ParameterAssembler(ParameterManifest manifest, long maxBytes = long.MaxValue)
    {
        if (manifest.Sha256.Length != 32) throw new InvalidDataException("parameter manifest lacks a SHA-256");
        _expectedHash = manifest.Sha256.ToByteArray();
        // Validate the whole manifest before anything else: a manifest over the limit, with a duplicate
        // name or a total that disagrees must not cost the receiver memory.
        int count = manifest.Tensors.Count;
        _names = new string[count];
        _dtypes = new Parameters.DType[count];
        _shapes = new int[count][];
        _sizes = new long[count];
        _starts = new long[count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        for (int i = 0; i < count; i++)
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
            _names[i] = spec.Name;
            _dtypes[i] = dtype;
            _shapes[i] = shape;
            _sizes[i] = bytes;
        }
        if (total != manifest.TotalBytes) throw new InvalidDataException($"manifest says {manifest.TotalBytes} bytes but its tensors hold {total}");
        _staging = new byte*[count];
        _total = total;
        SkipEmptyTensors();
    }

    /// <summary>Tensor specs announced by the manifest, as "name dtype[shape]".</summary>
    public IReadOnlyList<string> Specs => [.. _names.Select((n, i) => $"{n} {_dtypes[i].Name()}[{string.Join(",", _shapes[i])}]")];

    /// <summary>Bytes the manifest announces.</summary>
    public long TotalBytes => _total;

    /// <summary>Bytes received so far.</summary>
    public long ReceivedBytes => _received;

    /// <summary>True once every byte has arrived.</summary>
    public bool IsComplete => _received == _total;

    /// <summary>Copies one chunk into place.</summary>
    public void Add(ParameterChunk chunk)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (chunk.Offset != _received) throw new InvalidDataException($"chunk at offset {chunk.Offset}, expected {_received}");
        var data = chunk.Data.Span;
        if (data.Length == 0) throw new InvalidDataException($"empty chunk at offset {chunk.Offset}");
        if (_received + data.Length > _total) throw new InvalidDataException($"chunk at offset {chunk.Offset} runs past the announced {_total} bytes");
        while (!data.IsEmpty)
        {
            long size = _sizes[_current];
            if (_staging[_current] == null) _staging[_current] = (byte*)NativeMemory.Alloc((nuint)size);
            int within = (int)(_received - _starts[_current]);
            int n = (int)Math.Min(data.Length, size - within);
            data[..n].CopyTo(new Span<byte>(_staging[_current] + within, n));
            _hash.AppendData(data[..n]);
            data = data[n..];
            _received += n;
            if (within + n == size)
            {
                _current++;
                SkipEmptyTensors();
            }
        }
    }

    /// <summary>The parameters, once complete and verified; the staging memory is freed as each tensor is copied out.</summary>
    public ParameterSet Complete()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!IsComplete) throw new InvalidDataException($"parameters incomplete: {_received} of {_total} bytes arrived");
        if (!_hash.GetHashAndReset().AsSpan().SequenceEqual(_expectedHash)) throw new InvalidDataException("parameter checksum mismatch (corrupted in transit)");
        var tensors = new Tensor[_names.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            var data = GC.AllocateUninitializedArray<byte>((int)_sizes[i]);
            if (_sizes[i] > 0) new ReadOnlySpan<byte>(_staging[i], data.Length).CopyTo(data);
            Free(i);
            tensors[i] = new Tensor(_names[i], _dtypes[i], _shapes[i], data);
        }
        return new ParameterSet(tensors);
    }

    private void SkipEmptyTensors()
    {
        while (_current < _sizes.Length && _sizes[_current] == 0) _current++;
    }

    private void Free(int i)
    {
        if (_staging[i] == null) return;
        NativeMemory.Free(_staging[i]);
        _staging[i] = null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_staging is not null)
        {
            for (int i = 0; i < _staging.Length; i++) Free(i);
        }
        _hash.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the staging memory of an assembler that was never disposed.</summary>
    ~ParameterAssembler()
    {
        // A constructor that refused the manifest leaves no staging table.
        if (_staging is null) return;
        for (int i = 0; i < _staging.Length; i++) Free(i);
    }
}
