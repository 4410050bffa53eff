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
