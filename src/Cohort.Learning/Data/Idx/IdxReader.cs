using System.Buffers.Binary;
using System.IO.Compression;

namespace Cohort.Learning.Data.Idx;

/// <summary>
/// Reads IDX files (LeCun's format for MNIST: two zero bytes, a type code, the number of dimensions,
/// big-endian int32 sizes, then the values), gzipped or plain. Only the unsigned-byte type is
/// supported, which is what MNIST and its derivatives use.
/// </summary>
internal static class IdxReader
{
    private const byte UnsignedByte = 0x08;
    private static readonly byte[] GzipMagic = [0x1f, 0x8b];

    /// <summary>
    /// Reads <paramref name="path"/> (decompressing when it starts with the gzip signature) and checks
    /// that it has <paramref name="expectedDimensions"/> dimensions; throws <see cref="IdxFormatException"/>
    /// naming the file for anything missing, truncated, oversized or of another type.
    /// </summary>
    public static IdxArray Read(string path, int expectedDimensions)
    {
        if (!File.Exists(path)) throw new IdxFormatException(path, "file not found");
        try
        {
            using var file = File.OpenRead(path);
            Span<byte> signature = stackalloc byte[2];
            int got = file.ReadAtLeast(signature, 2, throwOnEndOfStream: false);
            file.Position = 0;
            bool gzip = got == 2 && signature.SequenceEqual(GzipMagic);
            using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
            return Read(stream, path, expectedDimensions);
        }
        catch (InvalidDataException e)
        {
            throw new IdxFormatException(path, $"corrupt gzip stream ({e.Message})", "corrupt gzip stream");
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            // The runtime's text names the full path, which stays on the site.
            throw new IdxFormatException(path, $"cannot be read ({e.Message})", "cannot be read");
        }
    }

    /// <summary>Reads an IDX array from an (already decompressed) stream; <paramref name="name"/> is used in errors.</summary>
    public static IdxArray Read(Stream stream, string name, int expectedDimensions)
    {
        Span<byte> header = stackalloc byte[4];
        if (stream.ReadAtLeast(header, 4, throwOnEndOfStream: false) < 4)
            throw new IdxFormatException(name, "too short for an IDX header (4 bytes)");
        if (header[0] != 0 || header[1] != 0)
            throw new IdxFormatException(name, $"not an IDX file: it starts with 0x{header[0]:x2}{header[1]:x2}, IDX files start with 0x0000");
        if (header[2] != UnsignedByte)
            throw new IdxFormatException(name, $"IDX type code 0x{header[2]:x2} is not supported; only 0x08 (unsigned byte) is");
        int dims = header[3];
        if (dims != expectedDimensions)
            throw new IdxFormatException(name, $"has {dims} dimension(s), expected {expectedDimensions}");

        Span<byte> sizes = stackalloc byte[4 * dims];
        if (stream.ReadAtLeast(sizes, sizes.Length, throwOnEndOfStream: false) < sizes.Length)
            throw new IdxFormatException(name, "truncated in the dimension sizes");
        var dimensions = new int[dims];
        long count = 1;
        for (int d = 0; d < dims; d++)
        {
            int size = BinaryPrimitives.ReadInt32BigEndian(sizes[(4 * d)..]);
            if (size < 0) throw new IdxFormatException(name, $"dimension {d} has a negative size {size}");
            dimensions[d] = size;
            count *= size;
            if (count > Array.MaxLength) throw new IdxFormatException(name, $"declares more than {Array.MaxLength} values");
        }

        var values = new byte[count];
        int read = stream.ReadAtLeast(values, values.Length, throwOnEndOfStream: false);
        if (read < values.Length)
            throw new IdxFormatException(name, $"truncated: the header declares {count} values ({string.Join("×", dimensions)}) but only {read} follow");
        Span<byte> extra = stackalloc byte[1];
        if (stream.Read(extra) != 0)
            throw new IdxFormatException(name, $"has bytes after the {count} values its header declares");
        return new IdxArray(dimensions, values);
    }
}
