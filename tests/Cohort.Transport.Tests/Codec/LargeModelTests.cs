using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using static Cohort.Transport.Tests.Codec.CodecTestData;
using DType = Cohort.Parameters.DType;

namespace Cohort.Transport.Tests.Codec;

/// <summary>Tests holding hundreds of megabytes run alone, so their peaks do not add up.</summary>
[CollectionDefinition(nameof(LargeModels), DisableParallelization = true)]
public sealed class LargeModels;

[Collection(nameof(LargeModels))]
public sealed class LargeModelTests
{
    private const int GrpcDefaultMaxMessageBytes = 4 * 1024 * 1024;
    private const int ElementsPerTensor = 32 << 20; // 32M float32 = 128 MB each, 256 MB in all

    [Fact]
    public void A_256_MB_model_streams_in_chunks_under_grpcs_4_MB_limit_and_reassembles_bit_identically()
    {
        var model = new ParameterSet([
            Patterned("encoder.weight", DType.Float32, [8192, ElementsPerTensor / 8192], seed: 11),
            Patterned("decoder.weight", DType.Float32, [ElementsPerTensor], seed: 12),
        ]);
        Assert.Equal(256L << 20, model.ByteCount);

        var manifest = ParameterEncoder.Manifest(model);
        Assert.True(manifest.CalculateSize() < 1024);

        long before = GC.GetAllocatedBytesForCurrentThread();
        int chunkCount = 0;
        int largestMessage = 0;
        ParameterSet received;
        using (var assembler = new ParameterAssembler(manifest, maxBytes: 256L << 20))
        {
            foreach (var chunk in ParameterEncoder.Chunks(model))
            {
                // The largest message a chunk travels in: the task stream's wrapper, which adds a few bytes of framing.
                largestMessage = Math.Max(largestMessage, new TaskMessage { Chunk = chunk }.CalculateSize());
                assembler.Add(chunk);
                chunkCount++;
            }
            received = assembler.Complete();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal((int)((256L << 20) / ParameterEncoder.DefaultChunkBytes), chunkCount);
        Assert.True(largestMessage < GrpcDefaultMaxMessageBytes, $"a chunk message is {largestMessage:N0} bytes");
        // The receiver allocates the model once and copies each chunk straight into place.
        Assert.True(allocated < (256L << 20) + (4 << 20), $"assembling allocated {allocated:N0} bytes for a 256 MB model");
        AssertIdentical(model, received);
    }
}

[Collection(nameof(LargeModels))]
public sealed class IntoTensorsAssemblyTests
{
    [Fact]
    public void Received_into_the_tensors_arrays_a_64_MB_model_is_allocated_once_and_arrives_bit_identically()
    {
        var model = new ParameterSet([
            Patterned("encoder.weight", DType.Float32, [4096, 2048], seed: 21),
            Patterned("empty", DType.Float32, [0], seed: 22),
            Patterned("decoder.weight", DType.Float64, [4096, 1024], seed: 23),
        ]);
        var manifest = ParameterEncoder.Manifest(model);
        long before = GC.GetAllocatedBytesForCurrentThread();
        ParameterSet received;
        using (var assembler = new ParameterAssembler(manifest, intoTensors: true))
        {
            foreach (var chunk in ParameterEncoder.Chunks(model)) assembler.Add(chunk);
            received = assembler.Complete();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // No staging copy: the arrays the chunks were copied into are the tensors handed over.
        Assert.True(allocated < model.ByteCount + (1 << 20), $"assembling allocated {allocated:N0} bytes for a {model.ByteCount:N0}-byte model");
        AssertIdentical(model, received);
    }

    [Fact]
    public void Received_into_the_tensors_a_corrupted_chunk_is_still_refused_at_the_end()
    {
        var model = new ParameterSet([Patterned("w", DType.Float32, [1 << 16], seed: 31)]);
        var manifest = ParameterEncoder.Manifest(model);
        using var assembler = new ParameterAssembler(manifest, intoTensors: true);
        foreach (var chunk in ParameterEncoder.Chunks(model, chunkBytes: 4096))
        {
            var bytes = chunk.Data.ToByteArray();
            if (chunk.Offset == 8192) bytes[7] ^= 1;
            assembler.Add(new ParameterChunk { Offset = chunk.Offset, Data = Google.Protobuf.ByteString.CopyFrom(bytes) });
        }
        Assert.Throws<InvalidDataException>(() => assembler.Complete());
    }
}
