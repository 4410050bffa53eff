using System.Security.Cryptography;
using Cohort.Parameters;
using Cohort.Transport.V1;
using Google.Protobuf;

namespace Cohort.Transport.Codec;

/// <summary>
/// Splits a <see cref="ParameterSet"/> into a manifest and chunks for streaming. Chunks wrap slices of
/// the tensors' own buffers (no copy) and never span two tensors.
/// </summary>
internal static class ParameterEncoder
{
    /// <summary>
    /// Default chunk size: 64 KiB, below the runtime's large-object threshold (85,000 bytes), so the buffer
    /// each received chunk message is decoded into is a short-lived small object collected at once; at
    /// 1 MiB every chunk was a large object and a model's worth of them piled up until a full collection.
    /// </summary>
    public const int DefaultChunkBytes = 64 << 10;

    /// <summary>The manifest: specs, total size and SHA-256 of the bytes.</summary>
    public static ParameterManifest Manifest(ParameterSet parameters)
    {
        var manifest = new ParameterManifest { TotalBytes = parameters.ByteCount };
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in parameters)
        {
            var spec = new TensorSpec { Name = t.Name, Dtype = (V1.DType)(int)t.DType };
            foreach (int d in t.Shape) spec.Shape.Add(d);
            manifest.Tensors.Add(spec);
            hash.AppendData(t.Data);
        }
        manifest.Sha256 = UnsafeByteOperations.UnsafeWrap(hash.GetHashAndReset());
        return manifest;
    }

    /// <summary>The chunks, in order.</summary>
    public static IEnumerable<ParameterChunk> Chunks(ParameterSet parameters, int chunkBytes = DefaultChunkBytes)
    {
        var sizes = new long[parameters.Count];
        for (int i = 0; i < sizes.Length; i++) sizes[i] = parameters[i].Data.LongLength;
        foreach (var c in ChunkPlan.Of(sizes, chunkBytes))
        {
            yield return new ParameterChunk
            {
                Offset = c.Offset,
                Data = UnsafeByteOperations.UnsafeWrap(parameters[c.Tensor].Data.AsMemory(c.Start, c.Length)),
            };
        }
    }
}
