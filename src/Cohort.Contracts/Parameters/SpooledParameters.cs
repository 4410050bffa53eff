using Microsoft.Win32.SafeHandles;

namespace Cohort.Parameters;

/// <summary>
/// A parameter set kept in a file rather than in memory — a large upload, received straight to disk —
/// whose tensors are read a slice at a time, so folding it into an aggregate never holds it whole. The
/// bytes are the tensors' raw little-endian contents back to back (the wire's order); the file is
/// deleted when this is disposed (or, failing that, finalized).
/// </summary>
internal sealed class SpooledParameters : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly long[] _starts;
    private int _disposed;

    /// <summary>Takes ownership of <paramref name="file"/> at <paramref name="path"/>, which holds tensors of these specs in order.</summary>
    public SpooledParameters(string path, SafeFileHandle file, IReadOnlyList<string> names, IReadOnlyList<DType> dtypes, IReadOnlyList<int[]> shapes)
    {
        Path = path;
        _file = file;
        Names = names;
        DTypes = dtypes;
        Shapes = shapes;
        _starts = new long[names.Count + 1];
        for (int i = 0; i < names.Count; i++) _starts[i + 1] = _starts[i] + Tensor.ElementCount(shapes[i], names[i]) * dtypes[i].Size();
    }

    /// <summary>
    /// Writes <paramref name="set"/> to a new file in <paramref name="folder"/> and hands it over spooled:
    /// the name is removed at once where the system allows it (elsewhere the file is deleted on close),
    /// so the data lives as long as the handle and even a killed process leaves no file behind.
    /// </summary>
    public static SpooledParameters Spill(ParameterSet set, string folder)
    {
        Directory.CreateDirectory(folder);
        string path = System.IO.Path.Combine(folder, $"spill-{Guid.NewGuid():N}.update");
        var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose, set.ByteCount);
        try
        {
            if (!OperatingSystem.IsWindows()) File.Delete(path);
            long position = 0;
            foreach (var t in set)
            {
                RandomAccess.Write(file, t.Data, position);
                position += t.Data.Length;
            }
            return new SpooledParameters(path, file, set.Select(t => t.Name).ToArray(), set.Select(t => t.DType).ToArray(), set.Select(t => (int[])t.Shape.Clone()).ToArray());
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Tensor names, in order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Tensor element types.</summary>
    public IReadOnlyList<DType> DTypes { get; }

    /// <summary>Tensor shapes.</summary>
    public IReadOnlyList<int[]> Shapes { get; }

    /// <summary>Number of tensors.</summary>
    public int Count => Names.Count;

    /// <summary>Total bytes of tensor data.</summary>
    public long ByteCount => _starts[^1];

    /// <summary>Bytes of tensor <paramref name="tensor"/>.</summary>
    public long BytesOf(int tensor) => _starts[tensor + 1] - _starts[tensor];

    /// <summary>Fills <paramref name="destination"/> with tensor <paramref name="tensor"/>'s bytes from <paramref name="offset"/> on.</summary>
    public void Read(int tensor, long offset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (offset < 0 || offset + destination.Length > BytesOf(tensor))
            throw new ArgumentOutOfRangeException(nameof(offset), $"tensor '{Names[tensor]}': bytes {offset}..{offset + destination.Length} lie outside its {BytesOf(tensor)}");
        long position = _starts[tensor] + offset;
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_file, destination, position);
            if (n == 0) throw new InvalidDataException($"{Path}: ends before tensor '{Names[tensor]}' does");
            destination = destination[n..];
            position += n;
        }
    }

    /// <summary>Tensor <paramref name="tensor"/>, read into memory.</summary>
    public Tensor LoadTensor(int tensor)
    {
        var data = GC.AllocateUninitializedArray<byte>(checked((int)BytesOf(tensor)));
        Read(tensor, 0, data);
        return new Tensor(Names[tensor], DTypes[tensor], (int[])Shapes[tensor].Clone(), data);
    }

    /// <summary>The whole set, read into memory (for consumers that need every value at once).</summary>
    public ParameterSet Load() => new(Enumerable.Range(0, Count).Select(LoadTensor).ToArray());

    /// <summary>Closes and deletes the file.</summary>
    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>Deletes the file of a spool nobody disposed (a result dropped with its run).</summary>
    ~SpooledParameters() => Release();

    private void Release()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _file.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
