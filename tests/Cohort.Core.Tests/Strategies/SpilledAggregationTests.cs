using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

/// <summary>Strategies that need every update give the same model, bit for bit, from updates kept on disk as from updates in memory.</summary>
public sealed class SpilledAggregationTests : IDisposable
{
    // Two chunks of a float32 tensor and a tail that is not a whole SIMD vector, plus float64 and integer tensors.
    private const int Values = (1 << 18) + 1003;
    private const int Results = 7;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cohort-spill-test-{Guid.NewGuid():N}");

    public SpilledAggregationTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static ParameterSet Update(int seed)
    {
        var random = new Random(seed);
        // Two of the seven are far off, so Krum's and Bulyan's choices are not every update.
        double offset = seed % 5 == 0 ? 40 : 0;
        var w = Tensor.Zeros("w", DType.Float32, [Values]);
        var span = w.AsFloat32();
        for (int i = 0; i < span.Length; i++) span[i] = (float)(offset + (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 2)));
        var b = Tensor.Zeros("b", DType.Float64, [3, 7]);
        var bias = b.AsFloat64();
        for (int i = 0; i < bias.Length; i++) bias[i] = offset + random.NextDouble();
        var step = Tensor.Zeros("step", DType.Int64, [2]);
        step.Data[0] = (byte)(seed + 1);
        return new ParameterSet([w, b, step]);
    }

    private static IStrategy Create(string strategy, StrategyServices services) => strategy switch
    {
        "fedmedian" => new FedMedian(Config.Empty, services),
        "fedtrimmedavg" => new FedTrimmedAvg(new Config([KeyValuePair.Create("beta", Scalar.Of(0.2))]), services),
        "krum" => new Krum(new Config([KeyValuePair.Create("byzantine", Scalar.Of(1L))]), services),
        "multikrum" => new Krum(new Config([KeyValuePair.Create("byzantine", Scalar.Of(1L)), KeyValuePair.Create("keep", Scalar.Of(3L))]), services),
        "bulyan" => new Bulyan(new Config([KeyValuePair.Create("byzantine", Scalar.Of(1L))]), services),
        _ => throw new ArgumentOutOfRangeException(nameof(strategy)),
    };

    private static RoundContext Round() => new("r", 1, 1, new Selection(), Config.Empty, Config.Empty, new Random(1));

    private static FitResult Fit(int i) => new(Update(i), 10 + i, new Metrics([KeyValuePair.Create("loss", Scalar.Of(0.1 * i))]));

    private static SpooledParameters Received(ParameterSet p, string folder) => SpooledParameters.Spill(p, folder);

    /// <summary>Aggregates the seven updates: odd ones added from memory, even ones handed over as received files.</summary>
    private (FitAggregate Aggregate, int OnDisk) Run(string strategy, long budget)
    {
        var services = new StrategyServices { UpdateMemoryBytes = budget, SpillFolder = _folder };
        using var aggregation = Create(strategy, services).BeginAggregateFit(Round(), Update(100));
        // Arrival order is not node order: the aggregate must not depend on it.
        foreach (int i in new[] { 3, 0, 6, 1, 5, 2, 4 })
        {
            if (i % 2 == 1) aggregation.Add($"node-{i}", Fit(i));
            else ((ISpillingFitAggregation)aggregation).Hold($"node-{i}", Received(Update(i), _folder), 10 + i, Fit(i).Metrics);
        }
        int onDisk = ((BufferedAggregation)aggregation).OnDisk;
        return (aggregation.Complete([]), onDisk);
    }

    [Theory]
    [InlineData("fedmedian")]
    [InlineData("fedtrimmedavg")]
    [InlineData("krum")]
    [InlineData("multikrum")]
    [InlineData("bulyan")]
    public void Updates_kept_on_disk_aggregate_to_the_same_bytes_as_updates_in_memory(string strategy)
    {
        var (inMemory, noneOnDisk) = Run(strategy, long.MaxValue);
        var (spilled, allOnDisk) = Run(strategy, 0);
        // Two updates' worth of budget: the first two arrivals stay in memory, the rest go to disk.
        var (mixed, someOnDisk) = Run(strategy, 2 * Update(0).ByteCount);
        Assert.Equal(0, noneOnDisk);
        Assert.Equal(Results, allOnDisk);
        Assert.Equal(Results - 2, someOnDisk);
        foreach (var other in new[] { spilled, mixed })
        {
            Assert.Equal(inMemory.Parameters.Count, other.Parameters.Count);
            for (int t = 0; t < inMemory.Parameters.Count; t++)
                Assert.True(inMemory.Parameters[t].Data.AsSpan().SequenceEqual(other.Parameters[t].Data), $"{strategy}: tensor '{inMemory.Parameters[t].Name}' differs");
            Assert.Equal(inMemory.Metrics, other.Metrics);
        }
        // The same model as the public in-memory functions give the sets in node order.
        var sets = Enumerable.Range(0, Results).Select(Update).ToArray();
        var expected = strategy switch
        {
            "fedmedian" => CoordinateWise.Reduce(sets, CoordinateWise.Median, CoordinateWise.MedianLanes),
            "bulyan" => Bulyan.Combine(sets, 1),
            "krum" => Krum.Mean(Krum.Select(Krum.SquaredDistances(sets), Enumerable.Range(0, Results).ToArray(), 1, 1).Select(i => sets[i]).ToArray()),
            "multikrum" => Krum.Mean(Krum.Select(Krum.SquaredDistances(sets), Enumerable.Range(0, Results).ToArray(), 1, 3).Select(i => sets[i]).ToArray()),
            _ => null,
        };
        if (expected is not null)
            for (int t = 0; t < expected.Count; t++) Assert.True(expected[t].Data.AsSpan().SequenceEqual(spilled.Parameters[t].Data), $"{strategy}: tensor '{expected[t].Name}' differs from the in-memory functions");
    }

    [Fact]
    public void Krum_leaves_out_the_far_updates_whether_they_are_in_memory_or_on_disk()
    {
        // Updates 0 and 5 are 40 away from the rest; Krum's choice is one of the others.
        var (spilled, _) = Run("krum", 0);
        float w0 = spilled.Parameters["w"].AsFloat32()[0];
        Assert.InRange(w0, -10f, 10f);
    }

    [Fact]
    public void Spill_files_have_no_name_in_the_folder_and_are_released_with_the_aggregation()
    {
        var services = new StrategyServices { UpdateMemoryBytes = 0, SpillFolder = _folder };
        using (var aggregation = new FedMedian(Config.Empty, services).BeginAggregateFit(Round(), Update(100)))
        {
            aggregation.Add("a", Fit(1));
            aggregation.Add("b", Fit(2));
            Assert.Equal(2, ((BufferedAggregation)aggregation).OnDisk);
            // Unlinked at creation: a crash leaves nothing in the data folder to be taken for state.
            Assert.Empty(Directory.GetFileSystemEntries(_folder));
        }
        Assert.Empty(Directory.GetFileSystemEntries(_folder));
    }

    [Fact]
    public void Memory_limit_counts_updates_on_disk_too()
    {
        var services = new StrategyServices { UpdateMemoryBytes = 0, SpillFolder = _folder };
        var parameters = new Config([KeyValuePair.Create(BufferedAggregation.MemoryLimitKey, Scalar.Of(2L))]);
        using var aggregation = new FedMedian(parameters, services).BeginAggregateFit(Round(), Update(100));
        aggregation.Add("a", Fit(1));
        var e = Assert.Throws<AggregationException>(() => aggregation.Add("b", Fit(2)));
        Assert.Contains("memory_limit_mb 2", e.Message);
        Assert.Equal(1, ((BufferedAggregation)aggregation).OnDisk);
    }

    [Fact]
    public void A_spooled_result_within_the_budget_is_read_into_memory_and_its_file_released()
    {
        var services = new StrategyServices { UpdateMemoryBytes = long.MaxValue, SpillFolder = _folder };
        using var aggregation = new FedMedian(Config.Empty, services).BeginAggregateFit(Round(), Update(100));
        var received = Received(Update(1), _folder);
        ((ISpillingFitAggregation)aggregation).Hold("a", received, 1, Metrics.Empty);
        Assert.Equal(0, ((BufferedAggregation)aggregation).OnDisk);
        Assert.Throws<ObjectDisposedException>(() => received.Read(0, 0, new byte[4]));
    }
}
