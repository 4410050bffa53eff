using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Cohort.Parameters;
using Cohort.Transport.V1;
using Microsoft.Win32.SafeHandles;

namespace Cohort.Transport.Codec;

/// <summary>
/// Rebuilds a <see cref="ParameterSet"/> from a manifest and its chunks, checking every step: known
/// dtypes, sizes within a limit, chunks contiguous and in order, total size and SHA-256 at the end.
/// Bytes land in native staging buffers reserved per tensor when its first byte arrives (pages become
/// resident only as they are written) and freed on <see cref="Dispose"/>, so a stream that is rejected
/// or abandoned gives its memory back at once instead of leaving it to a later garbage collection;
/// only a complete, verified set is copied into managed tensors. Given a spool file instead, the bytes
/// go straight to disk (checked for non-finite values on the way) and a complete set is handed over as
/// <see cref="SpooledParameters"/>: a large upload then costs the receiver no memory at all. A receiver
/// that trusts its sender (a node, receiving from its server) can receive straight into the tensors'
/// own arrays instead: the model then costs it once, not once plus its largest tensor.
/// </summary>
internal sealed unsafe class ParameterAssembler : IDisposable
{
    private readonly string[] _names;
    private readonly Parameters.DType[] _dtypes;
    private readonly int[][] _shapes;
    private readonly long[] _sizes;
    private readonly long[] _starts;
    private readonly byte*[] _staging;
    private readonly byte[]?[]? _arrays;
    private readonly long _total;
    private readonly byte[] _expectedHash;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly SafeFileHandle? _spool;
    private readonly string? _spoolPath;
    private readonly byte[] _partial = new byte[sizeof(double)];
    private int _partialLength;
    private long _received;
    private int _current;
    private bool _disposed;
    private bool _handedOver;

    /// <summary>
    /// Validates the manifest; throws <see cref="InvalidDataException"/> when it is unusable. Allocates nothing
    /// for the data yet. With <paramref name="intoTensors"/> the bytes land in the tensors' own arrays, not in
    /// native staging (the memory of a stream given up is then the garbage collector's to free).
    /// </summary>
    public ParameterAssembler(ParameterManifest manifest, long maxBytes = long.MaxValue, string? spoolPath = null, bool intoTensors = false)
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
        if (intoTensors && spoolPath is null) _arrays = new byte[]?[count];
        _total = total;
        if (spoolPath is not null)
        {
            // Reserved up front, so a full disk refuses the upload before any byte is received; the
            // system deletes the file when its last handle closes, whatever happens to this process.
            _spool = File.OpenHandle(spoolPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose, total);
            // Where the system allows it the name goes at once: the data lives as long as the handle, and
            // not even a killed process leaves a file behind.
            if (!OperatingSystem.IsWindows()) File.Delete(spoolPath);
            _spoolPath = spoolPath;
        }
        SkipEmptyTensors();
    }

    /// <summary>True when the bytes go to a spool file rather than memory.</summary>
    public bool Spooling => _spool is not null;

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
            int within = (int)(_received - _starts[_current]);
            int n = (int)Math.Min(data.Length, size - within);
            if (_spool is not null)
            {
                CheckFinite(data[..n], _dtypes[_current]);
                RandomAccess.Write(_spool, data[..n], _received);
            }
            else if (_arrays is not null)
            {
                // Uninitialized: every byte is written before the set is handed over.
                var array = _arrays[_current] ??= GC.AllocateUninitializedArray<byte>((int)size);
                data[..n].CopyTo(array.AsSpan(within, n));
            }
            else
            {
                if (_staging[_current] == null) _staging[_current] = (byte*)NativeMemory.Alloc((nuint)size);
                data[..n].CopyTo(new Span<byte>(_staging[_current] + within, n));
            }
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

    /// <summary>The parameters in their spool file, once complete and verified; the caller owns (and disposes) them.</summary>
    public SpooledParameters CompleteSpooled()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_spool is null) throw new InvalidOperationException("this assembler stages in memory; call Complete");
        Verify();
        _handedOver = true;
        return new SpooledParameters(_spoolPath!, _spool, _names, _dtypes, _shapes);
    }

    private void Verify()
    {
        if (!IsComplete) throw new InvalidDataException($"parameters incomplete: {_received} of {_total} bytes arrived");
        if (!_hash.GetHashAndReset().AsSpan().SequenceEqual(_expectedHash)) throw new InvalidDataException("parameter checksum mismatch (corrupted in transit)");
    }

    // A value may be split across chunks: its first bytes wait in _partial for the rest.
    private void CheckFinite(ReadOnlySpan<byte> piece, Parameters.DType dtype)
    {
        if (dtype is not (Parameters.DType.Float32 or Parameters.DType.Float64)) return;
        int size = dtype.Size();
        if (_partialLength > 0)
        {
            int take = Math.Min(size - _partialLength, piece.Length);
            piece[..take].CopyTo(_partial.AsSpan(_partialLength));
            _partialLength += take;
            piece = piece[take..];
            if (_partialLength < size) return;
            CheckValues(_partial.AsSpan(0, size), dtype);
            _partialLength = 0;
        }
        int whole = piece.Length / size * size;
        CheckValues(piece[..whole], dtype);
        piece[whole..].CopyTo(_partial);
        _partialLength = piece.Length - whole;
    }

    private void CheckValues(ReadOnlySpan<byte> values, Parameters.DType dtype)
    {
        bool finite = dtype == Parameters.DType.Float32
            ? ParameterSet.AllFinite(MemoryMarshal.Cast<byte, float>(values))
            : ParameterSet.AllFinite(MemoryMarshal.Cast<byte, double>(values));
        if (!finite) throw new InvalidDataException($"tensor '{_names[_current]}' holds NaN or infinity");
    }

    /// <summary>The parameters, once complete and verified; the staging memory is freed as each tensor is copied out.</summary>
    public ParameterSet Complete()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_spool is not null) throw new InvalidOperationException("this assembler spools to disk; call CompleteSpooled");
        Verify();
        var tensors = new Tensor[_names.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            if (_arrays is not null)
            {
                tensors[i] = new Tensor(_names[i], _dtypes[i], _shapes[i], _arrays[i] ?? []);
                _arrays[i] = null;
                continue;
            }
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
        if (_arrays is not null) Array.Clear(_arrays);
        // Unless handed over, closing the spool deletes it.
        if (!_handedOver) _spool?.Dispose();
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
