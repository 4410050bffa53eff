using System.Buffers;
using Cohort.Parameters;
using Microsoft.Win32.SafeHandles;

namespace Cohort.Strategies;

/// <summary>
/// A strategy's model-sized state (FedOpt's moments) kept in a scratch file instead of memory, read and
/// written a window at a time with positioned reads and writes: its pages live in the system's page cache,
/// which counts nowhere in the server's resident memory (a mapping of the file would count). The file loses
/// its name as soon as it is created where the system allows it, so it is gone once closed, even when the
/// process is killed. Lent to the checkpoints that read it when they are written out: once the strategy has
/// moved on (<see cref="Abandon"/>) it closes when the last of them is written.
/// </summary>
internal sealed class StateFile : ITensorStorage
{
    private readonly SafeFileHandle _handle;
    private readonly Lock _gate = new();
    private int _leases;
    private bool _abandoned;

    private StateFile(string path, SafeFileHandle handle, long length) => (Path, _handle, Length) = (path, handle, length);

    /// <summary>A new file of <paramref name="length"/> zero bytes (sparse: no disk is taken until written) in <paramref name="folder"/> (null: the system's temporary folder).</summary>
    public static StateFile Create(string? folder, long length)
    {
        folder ??= System.IO.Path.GetTempPath();
        Directory.CreateDirectory(folder);
        string path = System.IO.Path.Combine(folder, $"state-{Guid.NewGuid():N}.tensors");
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
        try
        {
            if (!OperatingSystem.IsWindows()) File.Delete(path);
            RandomAccess.SetLength(handle, length);
            return new StateFile(path, handle, length);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Where the file was created (it has no name there any more where the system allows it).</summary>
    public string Path { get; }

    /// <summary>Bytes in the file.</summary>
    public long Length { get; }

    /// <summary>True while a checkpoint that reads this file has not been written out.</summary>
    public bool Lent
    {
        get
        {
            lock (_gate) return _leases > 0;
        }
    }

    /// <summary>True once the file is closed (the strategy moved on and every checkpoint was written): its state is gone.</summary>
    public bool Closed => _handle.IsClosed;

    /// <inheritdoc />
    public void Read(long position, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_handle, destination, position);
            if (n == 0) throw new InvalidDataException($"{Path}: ends at byte {position} of {Length}");
            destination = destination[n..];
            position += n;
        }
    }

    /// <summary>Writes <paramref name="source"/> at byte <paramref name="position"/>.</summary>
    public void Write(long position, ReadOnlySpan<byte> source)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        RandomAccess.Write(_handle, source, position);
    }

    /// <summary>Lends the file to a checkpoint that will read it; the action returned (idempotent) says that it was written out.</summary>
    public Action Lend()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            _leases++;
        }
        int returned = 0;
        return () =>
        {
            if (Interlocked.Exchange(ref returned, 1) != 0) return;
            lock (_gate)
            {
                _leases--;
                if (_abandoned && _leases == 0) _handle.Dispose();
            }
        };
    }

    /// <summary>The strategy no longer needs the file: it closes now, or once the checkpoints it was lent to are written.</summary>
    public void Abandon()
    {
        lock (_gate)
        {
            _abandoned = true;
            if (_leases == 0) _handle.Dispose();
        }
    }

    /// <summary>Takes back a file given up with <see cref="Abandon"/>; false when it has closed since.</summary>
    public bool Keep()
    {
        lock (_gate)
        {
            if (_handle.IsClosed) return false;
            _abandoned = false;
            return true;
        }
    }

    /// <summary>A new file in <paramref name="folder"/> with this one's bytes, copied a chunk at a time.</summary>
    public StateFile Copy(string? folder)
    {
        var copy = Create(folder, Length);
        try
        {
            copy.CopyFrom(this, 0, 0, Length);
            return copy;
        }
        catch
        {
            copy.Abandon();
            throw;
        }
    }

    /// <summary>Copies <paramref name="bytes"/> bytes from <paramref name="source"/> at <paramref name="from"/> to this file at <paramref name="to"/>, a chunk at a time.</summary>
    public void CopyFrom(ITensorStorage source, long from, long to, long bytes)
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(CopyChunkBytes);
        try
        {
            for (long done = 0; done < bytes;)
            {
                int n = (int)Math.Min(bytes - done, CopyChunkBytes);
                source.Read(from + done, chunk.AsSpan(0, n));
                Write(to + done, chunk.AsSpan(0, n));
                done += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private const int CopyChunkBytes = 1 << 20;
}
