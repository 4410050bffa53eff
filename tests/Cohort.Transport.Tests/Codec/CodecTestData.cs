using System.Runtime.InteropServices;
using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Google.Protobuf;

namespace Cohort.Transport.Tests.Codec;

/// <summary>Parameter sets and helpers shared by the codec tests.</summary>
internal static class CodecTestData
{
    /// <summary>Every dtype, a scalar, and empty tensors at the start, in the middle and at the end.</summary>
    public static ParameterSet Mixed()
    {
        var f64 = Tensor.Zeros("head.bias", Parameters.DType.Float64, [5]);
        double[] d = [Math.PI, -0.0, double.Epsilon, double.NaN, -1e300];
        d.CopyTo(f64.AsFloat64());
        return new ParameterSet([
            Tensor.Zeros("empty.first", Parameters.DType.Float32, [0]),
            Patterned("layer1.weight", Parameters.DType.Float32, [7, 13], seed: 1),
            f64,
            Tensor.Zeros("empty.middle", Parameters.DType.Int64, [3, 0, 2]),
            Patterned("counts", Parameters.DType.Int32, [11], seed: 2),
            Patterned("step", Parameters.DType.Int64, [], seed: 3),
            Patterned("layer2.weight", Parameters.DType.Float32, [33], seed: 4),
            Tensor.Zeros("empty.last", Parameters.DType.Float64, [0, 0]),
        ]);
    }

    /// <summary>A tensor whose bytes follow a cheap seeded pattern (distinct per position and seed).</summary>
    public static Tensor Patterned(string name, Parameters.DType dtype, int[] shape, uint seed)
    {
        var t = Tensor.Zeros(name, dtype, shape);
        Fill(t.Data, seed);
        return t;
    }

    /// <summary>Fills bytes with a seeded multiplicative-hash pattern, four bytes at a time.</summary>
    public static void Fill(byte[] data, uint seed)
    {
        var words = MemoryMarshal.Cast<byte, uint>(data.AsSpan(0, data.Length & ~3));
        uint x = seed * 0x9E3779B9u + 1;
        for (int i = 0; i < words.Length; i++) words[i] = (uint)i * 2654435761u ^ x;
        for (int i = words.Length * 4; i < data.Length; i++) data[i] = (byte)(i ^ seed);
    }

    /// <summary>Encodes and reassembles through the public codec.</summary>
    public static ParameterSet RoundTrip(ParameterSet parameters, int chunkBytes = ParameterEncoder.DefaultChunkBytes)
    {
        using var assembler = new ParameterAssembler(ParameterEncoder.Manifest(parameters));
        foreach (var chunk in ParameterEncoder.Chunks(parameters, chunkBytes)) assembler.Add(chunk);
        Assert.True(assembler.IsComplete);
        return assembler.Complete();
    }

    /// <summary>Asserts same names, dtypes, shapes and bytes.</summary>
    public static void AssertIdentical(ParameterSet expected, ParameterSet actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].HasSameSpec(actual[i]), $"{expected[i].Spec} vs {actual[i].Spec}");
            Assert.True(expected[i].Data.AsSpan().SequenceEqual(actual[i].Data), $"bytes of {expected[i].Name} differ");
        }
    }

    /// <summary>A manifest built by hand.</summary>
    public static ParameterManifest Manifest(long totalBytes, params TensorSpec[] specs)
    {
        var m = new ParameterManifest { TotalBytes = totalBytes, Sha256 = ByteString.CopyFrom(new byte[32]) };
        m.Tensors.AddRange(specs);
        return m;
    }

    /// <summary>A tensor spec built by hand.</summary>
    public static TensorSpec Spec(string name, V1.DType dtype, params long[] shape)
    {
        var s = new TensorSpec { Name = name, Dtype = dtype };
        s.Shape.AddRange(shape);
        return s;
    }
}
