using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Google.Protobuf;
using static Cohort.Transport.Tests.Codec.CodecTestData;
using DType = Cohort.Parameters.DType;
using WireDType = Cohort.Transport.V1.DType;

namespace Cohort.Transport.Tests.Codec;

public sealed class ParameterCodecTests
{
    private static ParameterSet Small() => new([
        Tensor.FromFloat32("w", [2, 3], [1f, 2f, 3f, 4f, 5f, 6f]),
        Tensor.FromFloat32("b", [2], [0.5f, -0.5f]),
    ]);

    private static (ParameterManifest Manifest, ParameterChunk[] Chunks) Encode(ParameterSet p, int chunkBytes) =>
        (ParameterEncoder.Manifest(p), ParameterEncoder.Chunks(p, chunkBytes).ToArray());

    private static ParameterChunk Chunk(long offset, params byte[] data) => new() { Offset = offset, Data = ByteString.CopyFrom(data) };

    // ---- encoding ----

    [Fact]
    public void Manifest_lists_the_tensor_specs_total_bytes_and_sha256_of_all_bytes_in_order()
    {
        var p = Mixed();

        var manifest = ParameterEncoder.Manifest(p);

        Assert.Equal(p.Select(t => t.Name), manifest.Tensors.Select(s => s.Name));
        Assert.Equal(p.Select(t => (int)t.DType), manifest.Tensors.Select(s => (int)s.Dtype));
        Assert.All(p.Zip(manifest.Tensors), x => Assert.Equal(x.First.Shape.Select(d => (long)d), x.Second.Shape));
        Assert.Equal(p.ByteCount, manifest.TotalBytes);
        Assert.Equal(SHA256.HashData(p.SelectMany(t => t.Data).ToArray()), manifest.Sha256.ToByteArray());
    }

    [Fact]
    public void Wire_dtype_values_match_the_core_dtypes()
    {
        Assert.Equal((int)DType.Float32, (int)WireDType.Float32);
        Assert.Equal((int)DType.Float64, (int)WireDType.Float64);
        Assert.Equal((int)DType.Int32, (int)WireDType.Int32);
        Assert.Equal((int)DType.Int64, (int)WireDType.Int64);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(100)]
    [InlineData(1 << 20)]
    public void Chunks_are_contiguous_at_most_chunkBytes_and_never_span_two_tensors(int chunkBytes)
    {
        var p = Mixed();
        long[] starts = new long[p.Count];
        for (int i = 1; i < p.Count; i++) starts[i] = starts[i - 1] + p[i - 1].Data.Length;

        long expectedOffset = 0;
        foreach (var chunk in ParameterEncoder.Chunks(p, chunkBytes))
        {
            Assert.Equal(expectedOffset, chunk.Offset);
            Assert.InRange(chunk.Data.Length, 1, chunkBytes);
            // The one non-empty tensor whose byte range holds the chunk's first byte.
            int owner = Enumerable.Range(0, p.Count).Single(i => starts[i] <= chunk.Offset && chunk.Offset < starts[i] + p[i].Data.Length);
            long end = chunk.Offset + chunk.Data.Length;
            Assert.True(end <= starts[owner] + p[owner].Data.Length, $"chunk [{chunk.Offset}, {end}) runs past tensor '{p[owner].Name}'");
            expectedOffset = end;
        }
        Assert.Equal(p.ByteCount, expectedOffset);
    }

    [Fact]
    public void Each_tensor_starts_a_new_chunk()
    {
        // 24 bytes then 8 bytes with 16-byte chunks: 16 + 8 for "w", then 8 for "b" (not 16 + 16).
        var chunks = ParameterEncoder.Chunks(Small(), 16).Select(c => (c.Offset, c.Data.Length)).ToArray();

        Assert.Equal([(0L, 16), (16L, 8), (24L, 8)], chunks);
    }

    [Fact]
    public void Chunks_alias_the_tensors_memory_instead_of_copying_it()
    {
        var p = Small();

        var chunks = ParameterEncoder.Chunks(p, 16).ToArray();

        Assert.True(MemoryMarshal.TryGetArray(chunks[1].Data.Memory, out var segment));
        Assert.Same(p["w"].Data, segment.Array);
        Assert.Equal(16, segment.Offset);
        Assert.True(MemoryMarshal.TryGetArray(chunks[2].Data.Memory, out segment));
        Assert.Same(p["b"].Data, segment.Array);
        Assert.Equal(0, segment.Offset);

        p["b"].AsFloat32()[1] = 42f; // visible through the chunk: same memory
        Assert.Equal(42f, BitConverter.ToSingle(chunks[2].Data.Span[4..]));
    }

    [Fact]
    public void A_set_of_only_empty_tensors_has_no_chunks_and_reassembles()
    {
        var p = new ParameterSet([Tensor.Zeros("a", DType.Float32, [0]), Tensor.Zeros("b", DType.Int32, [2, 0])]);

        Assert.Empty(ParameterEncoder.Chunks(p));
        AssertIdentical(p, RoundTrip(p));
        AssertIdentical(ParameterSet.Empty, RoundTrip(ParameterSet.Empty));
    }

    [Fact]
    public void Chunk_size_below_one_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ParameterEncoder.Chunks(Small(), 0).ToArray());
    }

    // ---- round trips ----

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(ParameterEncoder.DefaultChunkBytes)]
    public void Round_trip_is_bit_identical_for_every_dtype_and_chunk_size(int chunkBytes)
    {
        var p = Mixed();

        AssertIdentical(p, RoundTrip(p, chunkBytes));
    }

    [Fact]
    public void Round_trip_survives_protobuf_serialization_of_every_message()
    {
        var p = Mixed();
        var manifest = ParameterManifest.Parser.ParseFrom(ParameterEncoder.Manifest(p).ToByteArray());

        using var assembler = new ParameterAssembler(manifest);
        foreach (var chunk in ParameterEncoder.Chunks(p, 10))
            assembler.Add(ResultMessage.Parser.ParseFrom(new ResultMessage { Chunk = chunk }.ToByteArray()).Chunk);

        AssertIdentical(p, assembler.Complete());
    }

    [Fact]
    public void Assembler_accepts_chunks_that_span_tensors()
    {
        // Another sender may cut the byte stream anywhere; only order and contiguity matter.
        var p = Mixed();
        byte[] all = p.SelectMany(t => t.Data).ToArray();

        using var assembler = new ParameterAssembler(ParameterEncoder.Manifest(p));
        for (int offset = 0; offset < all.Length; offset += 37)
            assembler.Add(Chunk(offset, all[offset..Math.Min(all.Length, offset + 37)]));

        AssertIdentical(p, assembler.Complete());
    }

    [Fact]
    public void Assembler_announces_the_manifests_tensors_before_the_data_arrives()
    {
        using var assembler = new ParameterAssembler(ParameterEncoder.Manifest(Small()));

        Assert.Equal(["w float32[2,3]", "b float32[2]"], assembler.Specs);
        Assert.False(assembler.IsComplete);
    }

    // ---- chunks that do not fit ----

    [Fact]
    public void An_out_of_order_chunk_is_rejected()
    {
        var (manifest, chunks) = Encode(Small(), 8);
        using var assembler = new ParameterAssembler(manifest);
        assembler.Add(chunks[0]);

        var e = Assert.Throws<InvalidDataException>(() => assembler.Add(chunks[2]));
        Assert.Equal("chunk at offset 16, expected 8", e.Message);
    }

    [Fact]
    public void A_repeated_chunk_is_rejected()
    {
        var (manifest, chunks) = Encode(Small(), 8);
        using var assembler = new ParameterAssembler(manifest);
        assembler.Add(chunks[0]);
        assembler.Add(chunks[1]);

        Assert.Throws<InvalidDataException>(() => assembler.Add(chunks[1]));
    }

    [Fact]
    public void An_overlapping_chunk_is_rejected()
    {
        var (manifest, chunks) = Encode(Small(), 8);
        using var assembler = new ParameterAssembler(manifest);
        assembler.Add(chunks[0]);

        var e = Assert.Throws<InvalidDataException>(() => assembler.Add(Chunk(4, new byte[8])));
        Assert.Contains("offset 4", e.Message);
    }

    [Fact]
    public void A_chunk_running_past_the_announced_total_is_rejected()
    {
        var (manifest, _) = Encode(Small(), 8);
        using var assembler = new ParameterAssembler(manifest);
        assembler.Add(Chunk(0, new byte[30]));

        var e = Assert.Throws<InvalidDataException>(() => assembler.Add(Chunk(30, new byte[3])));
        Assert.Contains("runs past the announced 32 bytes", e.Message);
    }

    [Fact]
    public void A_chunk_after_completion_is_rejected()
    {
        var (manifest, chunks) = Encode(Small(), 64);
        using var assembler = new ParameterAssembler(manifest);
        foreach (var c in chunks) assembler.Add(c);

        Assert.Throws<InvalidDataException>(() => assembler.Add(Chunk(32, 1)));
    }

    [Fact]
    public void An_empty_chunk_is_rejected()
    {
        using var assembler = new ParameterAssembler(ParameterEncoder.Manifest(Small()));

        Assert.Throws<InvalidDataException>(() => assembler.Add(Chunk(0)));
    }

    [Fact]
    public void Completing_before_every_byte_arrived_is_rejected()
    {
        var (manifest, chunks) = Encode(Small(), 8);
        using var assembler = new ParameterAssembler(manifest);
        assembler.Add(chunks[0]);

        var e = Assert.Throws<InvalidDataException>(() => assembler.Complete());
        Assert.Equal("parameters incomplete: 8 of 32 bytes arrived", e.Message);
    }

    [Fact]
    public void A_corrupted_chunk_is_caught_by_the_sha256()
    {
        var (manifest, chunks) = Encode(Small(), 8);
        using var assembler = new ParameterAssembler(manifest);
        foreach (var c in chunks)
        {
            byte[] data = c.Data.ToByteArray();
            if (c.Offset == 16) data[3] ^= 0x01;
            assembler.Add(Chunk(c.Offset, data));
        }

        var e = Assert.Throws<InvalidDataException>(() => assembler.Complete());
        Assert.Contains("checksum mismatch", e.Message);
    }

    [Fact]
    public void A_manifest_with_a_wrong_sha256_is_caught_at_completion()
    {
        var p = Small();
        var manifest = ParameterEncoder.Manifest(p);
        byte[] wrong = manifest.Sha256.ToByteArray();
        wrong[0] ^= 0xFF;
        manifest.Sha256 = ByteString.CopyFrom(wrong);

        using var assembler = new ParameterAssembler(manifest);
        foreach (var c in ParameterEncoder.Chunks(p)) assembler.Add(c);

        Assert.Contains("checksum mismatch", Assert.Throws<InvalidDataException>(() => assembler.Complete()).Message);
    }

    // ---- manifests that are unusable ----

    [Fact]
    public void A_manifest_whose_total_disagrees_with_its_tensors_is_rejected()
    {
        var manifest = ParameterEncoder.Manifest(Small());
        manifest.TotalBytes = 31;

        var e = Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest));
        Assert.Equal("manifest says 31 bytes but its tensors hold 32", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(-1)]
    public void A_manifest_with_an_unknown_dtype_is_rejected_naming_the_tensor(int dtype)
    {
        var manifest = Manifest(8, Spec("mystery", (WireDType)dtype, 2));

        var e = Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest));
        Assert.Equal($"tensor 'mystery': unknown dtype {dtype}", e.Message);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(long.MinValue)]
    [InlineData((long)int.MaxValue + 1)]
    public void A_manifest_with_a_negative_or_oversized_dimension_is_rejected_naming_the_tensor(long dim)
    {
        var manifest = Manifest(0, Spec("w", WireDType.Float32, 2, dim));

        var e = Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest));
        Assert.Equal($"tensor 'w': dimension {dim} out of range", e.Message);
    }

    [Fact]
    public void A_manifest_whose_element_count_overflows_is_rejected()
    {
        var manifest = Manifest(0, Spec("w", WireDType.Float64, int.MaxValue, int.MaxValue, int.MaxValue));

        var e = Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest));
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void A_manifest_tensor_larger_than_an_array_is_rejected()
    {
        var manifest = Manifest((long)int.MaxValue * 8, Spec("huge", WireDType.Float64, int.MaxValue));

        var e = Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest));
        Assert.Contains("'huge'", e.Message);
    }

    [Fact]
    public void A_manifest_without_a_sha256_is_rejected()
    {
        var manifest = ParameterEncoder.Manifest(Small());
        manifest.Sha256 = ByteString.Empty;

        Assert.Contains("SHA-256", Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest)).Message);
    }

    [Fact]
    public void A_manifest_with_a_nameless_tensor_is_rejected()
    {
        var manifest = Manifest(4, Spec("", WireDType.Float32, 1));

        Assert.Equal("tensor 0 has no name", Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest)).Message);
    }

    [Fact]
    public void A_manifest_with_duplicate_tensor_names_is_rejected_up_front()
    {
        var manifest = Manifest(8, Spec("w", WireDType.Float32, 1), Spec("w", WireDType.Float32, 1));

        var e = Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest));
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void The_size_limit_is_enforced_before_anything_is_allocated()
    {
        // 3 × 16 MB announced against a 40 MB limit: the first two tensors fit, the set does not.
        const int Mb16 = 4 << 20; // float32 elements
        var manifest = Manifest(3L * 16 << 20, Spec("a", WireDType.Float32, Mb16), Spec("b", WireDType.Float32, Mb16), Spec("c", WireDType.Float32, Mb16));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest, maxBytes: 40 << 20));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal($"parameters exceed the limit of {40 << 20} bytes", e.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated:N0} bytes before refusing");
    }

    [Fact]
    public void A_lying_total_is_refused_before_anything_is_allocated()
    {
        var manifest = Manifest(1, Spec("a", WireDType.Float32, 16 << 20));

        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(() => new ParameterAssembler(manifest));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 1 << 20, $"allocated {allocated:N0} bytes before refusing");
    }

    [Fact]
    public void Parameters_exactly_at_the_size_limit_are_accepted()
    {
        var p = Small();
        using var assembler = new ParameterAssembler(ParameterEncoder.Manifest(p), maxBytes: p.ByteCount);
        foreach (var c in ParameterEncoder.Chunks(p)) assembler.Add(c);

        AssertIdentical(p, assembler.Complete());
        Assert.Throws<InvalidDataException>(() => new ParameterAssembler(ParameterEncoder.Manifest(p), maxBytes: p.ByteCount - 1));
    }
}
