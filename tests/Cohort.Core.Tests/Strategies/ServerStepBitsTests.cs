using System.Security.Cryptography;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

/// <summary>
/// The server optimisers' models, bit for bit, against digests taken from the step as it was computed over
/// whole tensors (before it was applied in place as the mean is read out): a resumed run compares
/// byte-identical models, so any change to how a step rounds must show up here.
/// </summary>
public sealed class ServerStepBitsTests
{
    [Theory]
    [InlineData("fedavgm", "7D1BFC45EA95D2B2753B881A32477297")]
    [InlineData("fedadam", "FA94C37E12E2974AF662A2485709107F")]
    [InlineData("fedyogi", "C0D89335A9212A4891D2714B9CD4E7B6")]
    [InlineData("fedadagrad", "9E57D59449D2BE08DE6550A648DAD5D2")]
    public void Three_rounds_give_the_same_bytes_as_the_step_over_whole_tensors(string name, string digest)
    {
        // Several accumulator blocks and a length no vector width divides; float32, float64 and a counter.
        var (pinned, onDisk) = Digest(name, StrategyServices.None, 3 * ReproducibleSum.BlockValues + 123, ReproducibleSum.BlockValues + 5);
        Assert.False(onDisk);
        Assert.Equal(digest, pinned); // 128 bits are plenty to tell two models apart
    }

    [Theory]
    [InlineData("fedadam", "FA94C37E12E2974AF662A2485709107F")]
    [InlineData("fedyogi", "C0D89335A9212A4891D2714B9CD4E7B6")]
    [InlineData("fedadagrad", "9E57D59449D2BE08DE6550A648DAD5D2")]
    public void With_the_moments_on_disk_three_rounds_give_the_same_bytes(string name, string digest)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"cohort-state-{Guid.NewGuid():N}");
        try
        {
            var (pinned, onDisk) = Digest(name, OnDisk(folder), 3 * ReproducibleSum.BlockValues + 123, ReproducibleSum.BlockValues + 5);
            Assert.True(onDisk, "the moments were kept in memory");
            Assert.Equal(digest, pinned);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("fedadam")]
    [InlineData("fedyogi")]
    [InlineData("fedadagrad")]
    public void Moments_on_disk_read_and_written_in_several_windows_give_the_in_memory_bytes(string name)
    {
        // Tensors of several 1 MiB windows and a part of one: float32 of 2.6 windows, float64 of 1.4.
        int n32 = 2 * (1 << 18) + 150_001, n64 = (1 << 17) + 50_003;
        string folder = Path.Combine(Path.GetTempPath(), $"cohort-state-{Guid.NewGuid():N}");
        try
        {
            var (inMemory, wasOnDisk) = Digest(name, StrategyServices.None, n32, n64);
            Assert.False(wasOnDisk);
            var (onDisk, isOnDisk) = Digest(name, OnDisk(folder), n32, n64);
            Assert.True(isOnDisk, "the moments were kept in memory");
            Assert.Equal(inMemory, onDisk);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    private static StrategyServices OnDisk(string folder) => new() { StateOnDiskBytes = 0, SpillFolder = folder };

    // Three rounds of three results each with the strategy given these services and tensors of these lengths: the
    // digest of the model and the strategy's state after them, and whether that state was kept on disk.
    private static (string Digest, bool OnDisk) Digest(string name, StrategyServices services, int n32, int n64)
    {
        var random = new Random(23);
        var counter = Tensor.Zeros("step", DType.Int64, [1]);
        counter.Data[0] = 3;
        var global = new ParameterSet([Float32("w", n32, random, 0, 1), Float64("b", n64, random, 0, 1), counter]);
        var strategy = StrategyRegistry.CreateDefault().Create(name, Config.Empty, services);
        for (int round = 1; round <= 3; round++)
        {
            var context = new RoundContext("run", round, 3, new Selection(), Config.Empty, Config.Empty, new Random(round));
            using var aggregation = strategy.BeginAggregateFit(context, global);
            for (int k = 0; k < 3; k++)
            {
                var result = new ParameterSet([
                    Float32("w", n32, random, global["w"].AsFloat32(), 0.1), Float64("b", n64, random, global["b"].AsFloat64(), 0.1), counter.Clone()]);
                aggregation.Add($"node-{k}", new FitResult(result, 10 + k, Metrics.Empty));
            }
            global = aggregation.Complete([]).Parameters;
        }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in global) hash.AppendData(t.Data);
        var checkpoint = ((IStatefulStrategy)strategy).Save();
        foreach (var t in checkpoint.Tensors) hash.AppendData(t.Data);
        return (Convert.ToHexString(hash.GetHashAndReset())[..32], checkpoint.Stored is not null);
    }

    private static Tensor Float32(string name, int n, Random random, ReadOnlySpan<float> around, double spread)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (around.IsEmpty ? 0 : around[i]) + (float)((random.NextDouble() - 0.5) * spread);
        return Tensor.FromFloat32(name, [n], values);
    }

    private static Tensor Float32(string name, int n, Random random, int _, double spread) => Float32(name, n, random, [], spread);

    private static Tensor Float64(string name, int n, Random random, ReadOnlySpan<double> around, double spread)
    {
        var t = Tensor.Zeros(name, DType.Float64, [n]);
        var values = t.AsFloat64();
        for (int i = 0; i < n; i++) values[i] = (around.IsEmpty ? 0 : around[i]) + (random.NextDouble() - 0.5) * spread;
        return t;
    }

    private static Tensor Float64(string name, int n, Random random, int _, double spread) => Float64(name, n, random, [], spread);
}
