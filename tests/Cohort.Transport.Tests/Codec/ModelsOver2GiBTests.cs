using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using DType = Cohort.Parameters.DType;

namespace Cohort.Transport.Tests.Codec;

/// <summary>
/// The 64-bit arithmetic of a model larger than 2 GiB (several tensors, each one array), checked without
/// holding one: the chunk plan, the manifest a receiver checks, and reads from a sparse spool file.
/// </summary>
public sealed class ModelsOver2GiBTests
{
    // The largest float32 tensor there can be: one array of at most Array.MaxLength bytes.
    private const int MaxValues = 0x7FFFFFC7 / sizeof(float);
    private const long TensorBytes = (long)MaxValues * sizeof(float);

    [Fact]
    public void Chunks_of_three_largest_tensors_run_contiguously_past_4_GiB_and_never_span_two_tensors()
    {
        const int chunkBytes = 1 << 20;
        long expected = 0;
        int count = 0;
        var last = default(ChunkPlan.Chunk);
        foreach (var c in ChunkPlan.Of([TensorBytes, TensorBytes, TensorBytes], chunkBytes))
        {
            Assert.Equal(expected, c.Offset);
            Assert.Equal(c.Tensor * TensorBytes + c.Start, c.Offset);
            Assert.True(c.Start >= 0 && c.Length > 0 && c.Start + (long)c.Length <= TensorBytes, $"chunk {count}: {c}");
            expected += c.Length;
            count++;
            last = c;
        }
        Assert.Equal(3 * TensorBytes, expected);
        Assert.True(expected > 4L << 30);
        Assert.Equal(2, last.Tensor);
        Assert.Equal(TensorBytes, last.Start + (long)last.Length);
        // Each tensor ends in one short chunk: no chunk is cut to fit the next tensor's start.
        Assert.Equal(3 * (TensorBytes / chunkBytes + 1), count);
    }

    [Fact]
    public void A_chunk_plan_refuses_a_tensor_larger_than_an_array()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ChunkPlan.Of([16, (long)Array.MaxLength + 1], 1 << 16).ToList());
        Assert.Contains("tensor 1", e.Message);
    }

    [Fact]
    public void A_manifest_of_6_GiB_in_three_tensors_is_accepted_without_allocating_it()
    {
        var manifest = new ParameterManifest { TotalBytes = 3 * TensorBytes, Sha256 = Google.Protobuf.ByteString.CopyFrom(new byte[32]) };
        for (int i = 0; i < 3; i++)
            manifest.Tensors.Add(new TensorSpec { Name = $"weights.{i}", Dtype = V1.DType.Float32, Shape = { MaxValues } });
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var assembler = new ParameterAssembler(manifest, maxBytes: 8L << 30);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Equal(3 * TensorBytes, assembler.TotalBytes);
        Assert.False(assembler.IsComplete);
        // The first chunk must be at offset 0: a receiver never trusts an offset it was not expecting.
        Assert.Throws<InvalidDataException>(() => assembler.Add(new ParameterChunk { Offset = 2 * TensorBytes, Data = Google.Protobuf.ByteString.CopyFrom(new byte[8]) }));
    }

    [Fact]
    public void A_spooled_set_past_4_GiB_reads_each_tensor_at_its_own_file_position()
    {
        string path = Path.Combine(Path.GetTempPath(), $"cohort-over-2gib-{Guid.NewGuid():N}.upload");
        // Sparse: only the pages written below take disk space.
        var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
        RandomAccess.SetLength(file, 3 * TensorBytes);
        byte[] marker = [1, 2, 3, 4, 5, 6, 7, 8];
        RandomAccess.Write(file, marker, 2 * TensorBytes + 4096); // tensor 2, byte 4096: past 4 GiB in the file
        RandomAccess.Write(file, marker, 2 * TensorBytes - 8); // the last 8 bytes of tensor 1
        using var spooled = new SpooledParameters(path, file, ["weights.0", "weights.1", "weights.2"], [DType.Float32, DType.Float32, DType.Float32], [[MaxValues], [MaxValues], [MaxValues]]);
        Assert.Equal(3 * TensorBytes, spooled.ByteCount);
        Assert.Equal(TensorBytes, spooled.BytesOf(2));
        var read = new byte[8];
        spooled.Read(2, 4096, read);
        Assert.Equal(marker, read);
        spooled.Read(1, TensorBytes - 8, read);
        Assert.Equal(marker, read);
        spooled.Read(0, TensorBytes - 8, read);
        Assert.Equal(new byte[8], read);
        Assert.Throws<ArgumentOutOfRangeException>(() => spooled.Read(2, TensorBytes - 4, read));
    }
}
