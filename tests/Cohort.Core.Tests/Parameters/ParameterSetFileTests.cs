using System.Text;
using Cohort.Parameters;

namespace Cohort.Tests.Parameters;

public sealed class ParameterSetFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cohort-cps-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ParameterSet Mixed()
    {
        var f64 = Tensor.Zeros("head.bias", DType.Float64, [3]);
        double[] d = [Math.PI, -0.0, double.Epsilon];
        d.CopyTo(f64.AsFloat64());
        var i32 = new Tensor("counts", DType.Int32, [2, 2], BytesOf(BitConverter.GetBytes(-7), BitConverter.GetBytes(int.MaxValue), BitConverter.GetBytes(0), BitConverter.GetBytes(42)));
        var i64 = new Tensor("step", DType.Int64, [], BitConverter.GetBytes(long.MinValue + 3));
        return new ParameterSet([
            Tensor.FromFloat32("layer1.weight", [2, 3], [1f, -2f, 3.5f, float.MaxValue, float.Epsilon, -0f]),
            f64,
            i32,
            i64,
            Tensor.Zeros("empty", DType.Float32, [0, 4]),
            Tensor.FromFloat32("ünïcødé/名前", [1], [0.125f]),
        ]);
    }

    private static byte[] BytesOf(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static async Task<byte[]> EncodeAsync(ParameterSet p)
    {
        var ms = new MemoryStream();
        await ParameterSetFile.WriteAsync(ms, p);
        return ms.ToArray();
    }

    private static Task<ParameterSet> DecodeAsync(byte[] bytes) => ParameterSetFile.ReadAsync(new MemoryStream(bytes));

    private static void AssertIdentical(ParameterSet expected, ParameterSet actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].HasSameSpec(actual[i]), $"{expected[i].Spec} vs {actual[i].Spec}");
            Assert.Equal(expected[i].Data, actual[i].Data);
        }
    }

    [Fact]
    public async Task File_round_trip_preserves_names_dtypes_shapes_and_bytes()
    {
        var original = Mixed();
        string path = Path.Combine(_dir, "model.cps");

        await ParameterSetFile.WriteAsync(path, original);
        var read = await ParameterSetFile.ReadAsync(path);

        AssertIdentical(original, read);
        Assert.Empty(read["step"].Shape);
        Assert.Equal([0, 4], read["empty"].Shape);
        Assert.Equal(long.MinValue + 3, BitConverter.ToInt64(read["step"].Data));
    }

    [Theory]
    [InlineData(1000, true)]
    [InlineData(1000, false)]
    [InlineData(300_000, true)]
    public async Task A_file_holds_exactly_the_stream_form_whether_written_in_one_gathered_write_or_streamed(int floats, bool flushToDisk)
    {
        // 1,000 floats take the small-file path (one gathered write), 300,000 (1.2 MB) the streamed one.
        var values = new float[floats];
        for (int i = 0; i < floats; i++) values[i] = i * 0.5f - 7;
        var original = new ParameterSet([.. Mixed(), Tensor.FromFloat32("big", [floats], values)]);
        string path = Path.Combine(_dir, "model.cps");

        await ParameterSetFile.WriteAsync(path, original, flushToDisk);

        Assert.Equal(await EncodeAsync(original), await File.ReadAllBytesAsync(path));
        AssertIdentical(original, await ParameterSetFile.ReadAsync(path));
        Assert.Equal(["model.cps"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Writing_replaces_an_existing_file_and_leaves_no_temporary_file()
    {
        string path = Path.Combine(_dir, "model.cps");
        await ParameterSetFile.WriteAsync(path, Mixed());
        var second = new ParameterSet([Tensor.FromFloat32("only", [2], [5f, 6f])]);

        await ParameterSetFile.WriteAsync(path, second);

        AssertIdentical(second, await ParameterSetFile.ReadAsync(path));
        Assert.Equal(["model.cps"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Empty_parameter_set_round_trips()
    {
        var read = await DecodeAsync(await EncodeAsync(ParameterSet.Empty));

        Assert.Empty(read);
    }

    [Fact]
    public async Task File_starts_with_the_magic_and_version_and_ends_with_a_sha256_of_everything_before()
    {
        byte[] bytes = await EncodeAsync(Mixed());

        Assert.Equal("COHORTPS"u8.ToArray(), bytes[..8]);
        Assert.Equal(1, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32)), bytes[^32..]);
    }

    [Fact]
    public async Task A_flipped_data_byte_is_reported_as_a_checksum_mismatch()
    {
        byte[] bytes = await EncodeAsync(Mixed());
        bytes[bytes.Length - 32 - 5] ^= 0x01; // inside the last tensor's data

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(bytes));
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public async Task A_flipped_checksum_byte_is_reported_as_a_checksum_mismatch()
    {
        byte[] bytes = await EncodeAsync(Mixed());
        bytes[^1] ^= 0x80;

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(bytes));
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public async Task A_flipped_name_byte_is_reported_as_a_checksum_mismatch()
    {
        byte[] bytes = await EncodeAsync(Mixed());
        int at = bytes.AsSpan().IndexOf("layer1"u8);
        bytes[at] ^= 0x20; // 'l' -> 'L'

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(bytes));
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public async Task Any_single_flipped_bit_anywhere_is_rejected_as_invalid_data()
    {
        var small = new ParameterSet([Tensor.FromFloat32("w", [2, 2], [1f, 2f, 3f, 4f]), Tensor.Zeros("n", DType.Int64, [])]);
        byte[] good = await EncodeAsync(small);

        for (int i = 0; i < good.Length; i++)
        {
            foreach (byte mask in new byte[] { 0x01, 0x80 })
            {
                byte[] bad = (byte[])good.Clone();
                bad[i] ^= mask;
                Exception? e = await Record.ExceptionAsync(() => DecodeAsync(bad));
                Assert.True(e is InvalidDataException, $"byte {i} ^ 0x{mask:x2}: {e?.GetType().Name ?? "no exception"}: {e?.Message}");
            }
        }
    }

    [Fact]
    public async Task A_file_truncated_anywhere_is_rejected_as_truncated()
    {
        byte[] good = await EncodeAsync(Mixed());

        for (int length = 0; length < good.Length; length++)
        {
            var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(good[..length]));
            Assert.Contains("truncated", e.Message);
        }
    }

    [Fact]
    public async Task A_header_announcing_more_data_than_the_file_holds_is_rejected_before_allocating_it()
    {
        byte[] bytes = await EncodeAsync(new ParameterSet([Tensor.FromFloat32("w", [2, 2], [1f, 2f, 3f, 4f])]));
        // fixed part (16) + count (4) + name "w" (1 + 1) + dtype (4) + rank (4): the first dimension.
        const int FirstDim = 16 + 4 + 2 + 4 + 4;
        Assert.Equal(2, BitConverter.ToInt32(bytes, FirstDim));
        BitConverter.TryWriteBytes(bytes.AsSpan(FirstDim), 100_000_000); // 400 MB of float32

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(bytes));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("truncated", e.Message);
        Assert.Contains("'w'", e.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes before rejecting");
    }

    [Fact]
    public async Task A_header_with_a_negative_dimension_is_invalid_data()
    {
        byte[] bytes = await EncodeAsync(new ParameterSet([Tensor.FromFloat32("w", [2, 2], [1f, 2f, 3f, 4f])]));
        BitConverter.TryWriteBytes(bytes.AsSpan(16 + 4 + 2 + 4 + 4), -2);

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(bytes));
        Assert.Contains("negative dimension -2", e.Message);
    }

    [Fact]
    public async Task A_truncated_file_on_disk_is_reported_with_its_path()
    {
        string path = Path.Combine(_dir, "cut.cps");
        await ParameterSetFile.WriteAsync(path, Mixed());
        byte[] bytes = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, bytes[..(bytes.Length / 2)]);

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ParameterSetFile.ReadAsync(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public async Task A_file_with_bad_magic_is_not_a_parameter_file()
    {
        byte[] bytes = await EncodeAsync(Mixed());
        bytes[0] = (byte)'X';

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(bytes));
        Assert.Contains("bad magic", e.Message);
    }

    [Fact]
    public async Task Some_other_file_is_not_a_parameter_file()
    {
        byte[] text = Encoding.UTF8.GetBytes("{\"this\": \"is json, not a parameter file\"}");

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(text));
        Assert.Contains("bad magic", e.Message);
    }

    [Fact]
    public async Task A_file_of_another_version_is_refused_naming_the_version()
    {
        byte[] bytes = await EncodeAsync(Mixed());
        BitConverter.TryWriteBytes(bytes.AsSpan(8), 2);

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(bytes));
        Assert.Contains("version 2", e.Message);
    }
}
