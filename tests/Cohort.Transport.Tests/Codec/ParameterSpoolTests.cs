using Cohort.Parameters;
using Cohort.Transport.Codec;

namespace Cohort.Transport.Tests.Codec;

/// <summary>Receiving parameters to a spool file instead of memory.</summary>
public sealed class ParameterSpoolTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cohort-spool-" + Guid.NewGuid().ToString("N")[..8]);

    public ParameterSpoolTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ParameterSet Finite()
    {
        var w = Tensor.Zeros("w", Parameters.DType.Float32, [1000]);
        var span = w.AsFloat32();
        for (int i = 0; i < span.Length; i++) span[i] = (i - 500) * 0.37f;
        var b = Tensor.Zeros("b", Parameters.DType.Float64, [9]);
        for (int i = 0; i < 9; i++) b.AsFloat64()[i] = Math.PI * i;
        return new ParameterSet([w, CodecTestData.Patterned("counts", Parameters.DType.Int32, [5], seed: 3), b]);
    }

    [Theory]
    [InlineData(7)] // values split across chunks
    [InlineData(ParameterEncoder.DefaultChunkBytes)]
    public void A_spooled_set_reads_back_byte_for_byte_and_leaves_no_file(int chunkBytes)
    {
        var p = Finite();
        using var assembler = new ParameterAssembler(ParameterEncoder.Manifest(p), spoolPath: Path.Combine(_dir, "a.upload"));
        Assert.True(assembler.Spooling);
        // Unlinked as soon as it is opened: nothing to clean up whatever happens next.
        Assert.Empty(Directory.GetFiles(_dir));
        foreach (var chunk in ParameterEncoder.Chunks(p, chunkBytes)) assembler.Add(chunk);
        using var spooled = assembler.CompleteSpooled();
        Assert.Equal(p.ByteCount, spooled.ByteCount);
        CodecTestData.AssertIdentical(p, spooled.Load());
    }

    [Fact]
    public void A_non_finite_value_split_across_chunks_is_refused_while_it_streams()
    {
        var p = Finite();
        p[0].AsFloat32()[3] = float.NaN;
        using var assembler = new ParameterAssembler(ParameterEncoder.Manifest(p), spoolPath: Path.Combine(_dir, "b.upload"));
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var chunk in ParameterEncoder.Chunks(p, 3)) assembler.Add(chunk);
        });
        Assert.Contains("tensor 'w' holds NaN or infinity", e.Message);
    }

    [Fact]
    public void A_corrupted_spool_is_refused_at_the_end()
    {
        var p = Finite();
        var manifest = ParameterEncoder.Manifest(p);
        p[0].AsFloat32()[10] = 1.5f; // not what the manifest's SHA-256 says
        using var assembler = new ParameterAssembler(manifest, spoolPath: Path.Combine(_dir, "c.upload"));
        foreach (var chunk in ParameterEncoder.Chunks(p)) assembler.Add(chunk);
        Assert.Throws<InvalidDataException>(() => assembler.CompleteSpooled());
    }
}
