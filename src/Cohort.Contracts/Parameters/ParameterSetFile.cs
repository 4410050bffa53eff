using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Cohort.Parameters;

/// <summary>
/// The on-disk form of a <see cref="ParameterSet"/> (".cps"): a header naming each tensor's name,
/// dtype and shape, the raw little-endian tensor bytes in order, then a SHA-256 of everything before it.
/// </summary>
public static class ParameterSetFile
{
    private static ReadOnlySpan<byte> Magic => "COHORTPS"u8;
    private const int Version = 1;

    /// <summary>
    /// Writes <paramref name="parameters"/> to <paramref name="path"/> atomically: a temp file, flushed to
    /// disk, then renamed over the target, so a reader sees the old file or the new one, never a part.
    /// </summary>
    public static Task WriteAsync(string path, ParameterSet parameters, CancellationToken ct = default) => WriteAsync(path, parameters, flushToDisk: true, ct);

    /// <summary>
    /// Writes <paramref name="parameters"/> to <paramref name="path"/> atomically (temp file, then rename);
    /// with <paramref name="flushToDisk"/> false the file survives a crash of this process but not a power loss.
    /// </summary>
    public static async Task WriteAsync(string path, ParameterSet parameters, bool flushToDisk, CancellationToken ct = default)
    {
        string tmp = path + ".tmp";
        if (parameters.ByteCount <= SmallFileBytes)
        {
            ct.ThrowIfCancellationRequested();
            WriteSmall(tmp, parameters, flushToDisk);
            File.Move(tmp, path, overwrite: true);
            return;
        }
        await using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            await WriteAsync(file, parameters, ct);
            // The data must be durable before the rename is: otherwise a power loss can leave the new
            // name pointing at an empty or partial file.
            await file.FlushAsync(ct);
            if (flushToDisk) file.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    // A file this small is written with one gathered write on the calling thread: an asynchronous file stream would hand
    // each write to a pool thread (file I/O on Linux has no asynchronous path), several wake-ups for a few kilobytes,
    // and allocate its 64 KiB buffer. Models and kept results of small models are written every round.
    private const long SmallFileBytes = 1 << 20;

    private static void WriteSmall(string tmp, ParameterSet parameters, bool flushToDisk)
    {
        var parts = SmallFileParts(parameters);
        using var file = File.OpenHandle(tmp, FileMode.Create, FileAccess.Write, FileShare.None);
        RandomAccess.Write(file, parts, 0);
        // As in the stream path: the data is durable before the rename is.
        if (flushToDisk) RandomAccess.FlushToDisk(file);
    }

    // A small file's bytes in order, for one gathered write: the header, each tensor's own buffer, the SHA-256 of all before.
    private static List<ReadOnlyMemory<byte>> SmallFileParts(ParameterSet parameters)
    {
        byte[] header = BuildHeader(parameters);
        var parts = new List<ReadOnlyMemory<byte>>(parameters.Count + 2) { header };
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(header);
        foreach (var t in parameters)
        {
            hash.AppendData(t.Data);
            parts.Add(t.Data);
        }
        parts.Add(hash.GetHashAndReset());
        return parts;
    }

    /// <summary>The largest parameter set <see cref="TryWriteOver"/> takes (its file written in one gathered write).</summary>
    internal const long SpareFileBytes = SmallFileBytes;

    /// <summary>The length of the file <paramref name="parameters"/> make.</summary>
    internal static long LengthOf(ParameterSet parameters) => BuildHeader(parameters).Length + parameters.ByteCount + SHA256.HashSizeInBytes;

    /// <summary>
    /// Writes <paramref name="parameters"/> (at most <see cref="SpareFileBytes"/>) over <paramref name="spare"/>, a file
    /// made by <see cref="WriteSpare"/> of exactly their length, without flushing it: <see cref="FlushData"/> does, and
    /// then has no block to allocate and no size to record, so it writes the data without waiting for a journal commit
    /// (on a busy machine that wait, not the write, is what a flush of a new file costs). Returns false, having written
    /// nothing, when the spare's length is not theirs.
    /// </summary>
    internal static bool TryWriteOver(string spare, ParameterSet parameters)
    {
        if (parameters.ByteCount > SpareFileBytes) return false;
        var parts = SmallFileParts(parameters);
        long length = 0;
        foreach (var part in parts) length += part.Length;
        using var file = File.OpenHandle(spare, FileMode.Open, FileAccess.Write, FileShare.None);
        if (RandomAccess.GetLength(file) != length) return false;
        RandomAccess.Write(file, parts, 0);
        return true;
    }

    /// <summary>
    /// Flushes the data of the file at <paramref name="path"/> to disk (<c>fdatasync</c>), whatever handle wrote it. On Linux
    /// a handle that only reads may flush (and a write-back error since the file was written is reported to it), so a
    /// reader sharing the file for reading only neither refuses it nor is refused; elsewhere it opens the file to write.
    /// </summary>
    internal static void FlushData(string path)
    {
        using var file = File.OpenHandle(path, FileMode.Open, OperatingSystem.IsLinux() ? FileAccess.Read : FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        FileData.Flush(file);
    }

    /// <summary>
    /// Creates (or replaces) <paramref name="path"/> as <paramref name="length"/> zero bytes (at most
    /// <see cref="SpareFileBytes"/> and a header), flushed to disk with its size: a spare for <see cref="TryWriteOver"/>.
    /// </summary>
    internal static void WriteSpare(string path, long length)
    {
        using var file = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None);
        RandomAccess.Write(file, new byte[length], 0);
        RandomAccess.FlushToDisk(file);
    }

    /// <summary>Writes the file format to a stream.</summary>
    public static async Task WriteAsync(Stream stream, ParameterSet parameters, CancellationToken ct = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] header = BuildHeader(parameters);
        hash.AppendData(header);
        await stream.WriteAsync(header, ct);
        foreach (var t in parameters)
        {
            hash.AppendData(t.Data);
            await stream.WriteAsync(t.Data, ct);
        }
        await stream.WriteAsync(hash.GetHashAndReset(), ct);
    }

    /// <summary>Reads a parameter set written by <see cref="WriteAsync(string, ParameterSet, CancellationToken)"/>.</summary>
    public static async Task<ParameterSet> ReadAsync(string path, CancellationToken ct = default)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        try
        {
            return await ReadAsync(file, ct);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Reads the file format from a stream.</summary>
    public static async Task<ParameterSet> ReadAsync(Stream stream, CancellationToken ct = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var tensors = new List<Tensor>();
        foreach (var (name, dtype, shape, bytes) in await ReadHeaderAsync(stream, hash, ct))
        {
            if (stream.CanSeek && bytes > stream.Length - stream.Position)
                throw new InvalidDataException($"file ends early (truncated): tensor '{name}' needs {bytes} bytes, {Math.Max(0, stream.Length - stream.Position)} remain");
            var data = new byte[bytes];
            await ReadExactAsync(stream, data, ct);
            hash.AppendData(data);
            tensors.Add(new Tensor(name, dtype, shape, data));
        }
        await CheckDigestAsync(stream, hash, ct);
        return new ParameterSet(tensors);
    }

    /// <summary>
    /// The tensors of the file at <paramref name="path"/>, left on disk: the checksum is checked by reading the
    /// file through a chunk at a time, and the tensors are read from the file (by path) when asked for. For
    /// files too large to read whole (a large model's strategy state).
    /// </summary>
    internal static async Task<StoredTensors> OpenStoredAsync(string path, CancellationToken ct = default)
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(CopyChunkBytes);
        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var tensors = new List<StoredTensor>();
            foreach (var (name, dtype, shape, bytes) in await ReadHeaderAsync(file, hash, ct))
            {
                if (bytes > file.Length - file.Position)
                    throw new InvalidDataException($"file ends early (truncated): tensor '{name}' needs {bytes} bytes, {Math.Max(0, file.Length - file.Position)} remain");
                tensors.Add(new StoredTensor(name, dtype, shape, file.Position));
                for (long left = bytes; left > 0;)
                {
                    int n = (int)Math.Min(left, chunk.Length);
                    await ReadExactAsync(file, chunk.AsMemory(0, n), ct);
                    hash.AppendData(chunk, 0, n);
                    left -= n;
                }
            }
            await CheckDigestAsync(file, hash, ct);
            return new StoredTensors(new FileRegion(path), tensors);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    /// <summary>
    /// Writes <paramref name="stored"/>'s tensors, read a chunk at a time, then <paramref name="tail"/>'s, to
    /// <paramref name="path"/> atomically as <see cref="WriteAsync(string, ParameterSet, bool, CancellationToken)"/>
    /// does: the same bytes as a parameter set of those tensors in that order, without them ever in memory whole.
    /// </summary>
    internal static async Task WriteAsync(string path, StoredTensors stored, ParameterSet tail, bool flushToDisk, CancellationToken ct = default)
    {
        string tmp = path + ".tmp";
        byte[] header = BuildHeader(stored.Tensors.Select(t => (t.Name, t.DType, t.Shape)).Concat(tail.Select(t => (t.Name, t.DType, t.Shape))).ToList());
        byte[] chunk = ArrayPool<byte>.Shared.Rent(CopyChunkBytes);
        try
        {
            await using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                hash.AppendData(header);
                await file.WriteAsync(header, ct);
                for (int i = 0; i < stored.Tensors.Count; i++)
                {
                    long bytes = stored.Tensors[i].ByteCount;
                    for (long done = 0; done < bytes;)
                    {
                        int n = (int)Math.Min(bytes - done, chunk.Length);
                        stored.Read(i, done, chunk.AsSpan(0, n));
                        hash.AppendData(chunk, 0, n);
                        await file.WriteAsync(chunk.AsMemory(0, n), ct);
                        done += n;
                    }
                }
                foreach (var t in tail)
                {
                    hash.AppendData(t.Data);
                    await file.WriteAsync(t.Data, ct);
                }
                await file.WriteAsync(hash.GetHashAndReset(), ct);
                // As in the other paths: the data is durable before the rename is.
                if (flushToDisk) file.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    // Stored tensors are copied through a buffer this large: few enough system calls that they cost nothing
    // beside the copy, small enough to stay a rounding error beside a model.
    private const int CopyChunkBytes = 1 << 20;

    // The fixed part and the header, added to hash; the tensor specs, the stream left at the first tensor's data.
    private static async Task<List<(string Name, DType DType, int[] Shape, long Bytes)>> ReadHeaderAsync(Stream stream, IncrementalHash hash, CancellationToken ct)
    {
        var fixedPart = new byte[16];
        await ReadExactAsync(stream, fixedPart, ct);
        if (!fixedPart.AsSpan(0, 8).SequenceEqual(Magic)) throw new InvalidDataException("not a Cohort parameter file (bad magic)");
        int version = BinaryPrimitives.ReadInt32LittleEndian(fixedPart.AsSpan(8));
        if (version != Version) throw new InvalidDataException($"unsupported parameter file version {version}");
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(fixedPart.AsSpan(12));
        if (headerLength < 4 || headerLength > 64 << 20) throw new InvalidDataException($"implausible header length {headerLength}");
        var rest = new byte[headerLength];
        await ReadExactAsync(stream, rest, ct);
        hash.AppendData(fixedPart);
        hash.AppendData(rest);
        return ParseHeader(rest);
    }

    private static async Task CheckDigestAsync(Stream stream, IncrementalHash hash, CancellationToken ct)
    {
        var digest = new byte[32];
        await ReadExactAsync(stream, digest, ct);
        if (!digest.AsSpan().SequenceEqual(hash.GetHashAndReset())) throw new InvalidDataException("checksum mismatch: the file is corrupt or truncated");
    }

    /// <summary>
    /// The tensor specs of a header body. Every way a corrupt header can fail (short strings, negative or
    /// overflowing dimensions, bytes left over) is reported as <see cref="InvalidDataException"/>.
    /// </summary>
    private static List<(string Name, DType DType, int[] Shape, long Bytes)> ParseHeader(byte[] header)
    {
        var specs = new List<(string, DType, int[], long)>();
        var reader = new BinaryReader(new MemoryStream(header), Encoding.UTF8);
        try
        {
            int count = reader.ReadInt32();
            if (count < 0) throw new InvalidDataException($"corrupt header: {count} tensors");
            for (int i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                if (name.Length == 0) throw new InvalidDataException($"corrupt header: tensor {i} has no name");
                var dtype = (DType)reader.ReadInt32();
                if (!DTypes.IsKnown(dtype)) throw new InvalidDataException($"tensor '{name}': unknown dtype {(int)dtype}");
                int rank = reader.ReadInt32();
                if (rank < 0 || rank > 32) throw new InvalidDataException($"tensor '{name}': implausible rank {rank}");
                var shape = new int[rank];
                for (int d = 0; d < rank; d++) shape[d] = reader.ReadInt32();
                long bytes = checked(Tensor.ElementCount(shape, name) * dtype.Size());
                if (bytes > Array.MaxLength) throw new InvalidDataException($"tensor '{name}' too large ({bytes} bytes)");
                specs.Add((name, dtype, shape, bytes));
            }
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or OverflowException or DecoderFallbackException or FormatException)
        {
            throw new InvalidDataException($"corrupt header: {e.Message}", e);
        }
        if (reader.BaseStream.Position != header.Length)
            throw new InvalidDataException($"corrupt header: {header.Length - reader.BaseStream.Position} unexpected bytes after the tensor specs");
        return specs;
    }

    private static byte[] BuildHeader(ParameterSet parameters) => BuildHeader(parameters.Select(t => (t.Name, t.DType, t.Shape)).ToList());

    private static byte[] BuildHeader(IReadOnlyList<(string Name, DType DType, int[] Shape)> tensors)
    {
        var body = new MemoryStream();
        using (var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(tensors.Count);
            foreach (var (name, dtype, shape) in tensors)
            {
                w.Write(name);
                w.Write((int)dtype);
                w.Write(shape.Length);
                foreach (int d in shape) w.Write(d);
            }
        }
        var header = new byte[16 + body.Length];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), (int)body.Length);
        body.GetBuffer().AsSpan(0, (int)body.Length).CopyTo(header.AsSpan(16));
        return header;
    }

    private static async Task ReadExactAsync(Stream stream, Memory<byte> buffer, CancellationToken ct)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, ct);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("file ends early (truncated)");
        }
    }

    // A region of a parameter file, read by path when asked for: nothing held open between reads.
    private sealed class FileRegion(string path) : ITensorStorage
    {
        public void Read(long position, Span<byte> destination)
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            while (!destination.IsEmpty)
            {
                int n = RandomAccess.Read(file, destination, position);
                if (n == 0) throw new InvalidDataException($"{path}: ends early (truncated since it was checked)");
                destination = destination[n..];
                position += n;
            }
        }
    }
}
