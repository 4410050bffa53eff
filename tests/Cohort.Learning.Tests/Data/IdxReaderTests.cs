using System.IO.Compression;
using Cohort.Learning.Data.Idx;
using Cohort.Learning.Data.Mnist;

namespace Cohort.Learning.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cohort-idx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Reads_MNIST_sixty_thousand_training_and_ten_thousand_test_images_with_labels()
    {
        var data = MnistFiles.Data;

        Assert.Equal(60_000, data.Train.Count);
        Assert.Equal(10_000, data.Test.Count);
        Assert.Equal((28, 28), (data.Train.Height, data.Train.Width));
        // The canonical first labels: 5, 0, 4, 1 (train) and 7, 2, 1, 0 (test).
        Assert.Equal([5, 0, 4, 1], data.Train.Labels.Take(4).Select(b => (int)b));
        Assert.Equal([7, 2, 1, 0], data.Test.Labels.Take(4).Select(b => (int)b));
        Assert.Equal(5923, data.Train.ClassCounts()[0]);
        Assert.Same(data, MnistData.Shared(MnistFiles.DataDirectory + "/"));
    }

    [Fact]
    public void Plain_and_gzipped_files_read_the_same()
    {
        byte[] idx = Idx(0x08, [2, 3], [1, 2, 3, 4, 5, 6]);
        string plain = Write("plain", idx);
        string gz = Write("packed", Gzip(idx));

        var a = IdxReader.Read(plain, 2);
        var b = IdxReader.Read(gz, 2);

        Assert.Equal([2, 3], a.Dimensions);
        Assert.Equal(a.Values, b.Values);
    }

    [Fact]
    public void Missing_file_is_named()
    {
        string path = Path.Combine(_dir, "nothing-here");
        var e = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, 1));
        Assert.Equal($"{path}: file not found", e.Message);
    }

    [Fact]
    public void Corrupt_gzip_stream_is_reported_with_the_file()
    {
        var bytes = Gzip(Idx(0x08, [100], new byte[100]));
        bytes[12] ^= 0xff;
        bytes[20] ^= 0xff;
        string path = Write("corrupt.gz", bytes);

        var e = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, 1));

        Assert.StartsWith(path + ":", e.Message);
        Assert.Equal("corrupt.gz: corrupt gzip stream", e.SharedMessage);
    }

    [Fact]
    public void A_file_that_cannot_be_read_reaches_the_server_by_name_only()
    {
        // A file that opens but fails to read (a process's memory at address 0: EIO): the runtime's text names the full path.
        string path = Path.Combine(_dir, "labels-unreadable");
        File.CreateSymbolicLink(path, "/proc/self/mem");

        var e = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, 1));
        Assert.Contains("cannot be read (", e.Message);
        Assert.Contains(_dir, e.Message);
        Assert.Equal("labels-unreadable: cannot be read", e.SharedMessage);
    }

    [Theory]
    [InlineData(new byte[] { 1, 0, 8, 1, 0, 0, 0, 1, 7 }, "not an IDX file")]
    [InlineData(new byte[] { 0, 0, 0x0d, 1, 0, 0, 0, 1, 7 }, "type code 0x0d is not supported; only 0x08")]
    [InlineData(new byte[] { 0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7 }, "has 2 dimension(s), expected 1")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0, 0, 0, 3, 7 }, "truncated: the header declares 3 values (3) but only 1 follow")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0, 0, 0, 1, 7, 9 }, "has bytes after the 1 values its header declares")]
    [InlineData(new byte[] { 0, 0, 8 }, "too short for an IDX header")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0, 0 }, "truncated in the dimension sizes")]
    public void Malformed_files_are_refused_with_the_reason(byte[] content, string reason)
    {
        string path = Write("bad", content);

        var e = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, 1));

        Assert.Contains(reason, e.Message);
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void A_label_file_that_disagrees_with_its_images_is_refused()
    {
        Write("train-images-idx3-ubyte.gz", Gzip(Idx(0x08, [3, 2, 2], new byte[12])));
        Write("train-labels-idx1-ubyte.gz", Gzip(Idx(0x08, [2], [1, 2])));

        var e = Assert.Throws<IdxFormatException>(() => MnistData.ReadSet(_dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte"));

        Assert.Contains("holds 2 labels but", e.Message);
        Assert.Contains("holds 3 images", e.Message);
        Assert.DoesNotContain(_dir, e.SharedMessage);
    }

    [Fact]
    public void A_label_above_nine_is_refused_with_its_position()
    {
        Write("imgs", Idx(0x08, [2, 1, 1], [0, 0]));
        Write("labels", Idx(0x08, [2], [3, 12]));

        var e = Assert.Throws<IdxFormatException>(() => MnistData.ReadSet(_dir, "imgs", "labels"));

        Assert.Contains("label 1 is 12; digit labels are 0 to 9", e.Message);
        // The label's value and position are the site's data: the server sees that one is out of range, not which.
        Assert.Equal("labels: holds a label outside 0 to 9 (which one stays in the site's log)", e.SharedMessage);
    }

    [Fact]
    public void A_folder_without_the_files_names_the_missing_file()
    {
        var e = Assert.Throws<IdxFormatException>(() => MnistData.Load(_dir));

        Assert.Contains("train-images-idx3-ubyte.gz", e.Message);
        Assert.Contains("MNIST file missing", e.Message);
        Assert.Contains(_dir, e.Message);
        Assert.DoesNotContain(_dir, e.SharedMessage);
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Idx(byte type, int[] dims, byte[] values)
    {
        var bytes = new List<byte> { 0, 0, type, (byte)dims.Length };
        foreach (int d in dims) bytes.AddRange([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        bytes.AddRange(values);
        return bytes.ToArray();
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest)) gz.Write(bytes);
        return output.ToArray();
    }
}
