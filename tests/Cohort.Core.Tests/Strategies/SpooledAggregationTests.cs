using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

/// <summary>Results folded from the file they were received to give the same model as results in memory.</summary>
public sealed class SpooledAggregationTests
{
    // Three blocks and a tail: 16,384 values a block.
    private const int Values = 3 * ReproducibleSum.BlockValues + 123;

    private static ParameterSet Model(int seed)
    {
        var random = new Random(seed);
        var w = Tensor.Zeros("w", DType.Float32, [Values]);
        var span = w.AsFloat32();
        for (int i = 0; i < span.Length; i++) span[i] = (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 4)));
        var step = Tensor.Zeros("step", DType.Int64, [1]);
        step.Data[0] = (byte)seed;
        return new ParameterSet([w, step]);
    }

    private static SpooledParameters Spool(ParameterSet p)
    {
        string path = Path.Combine(Path.GetTempPath(), $"cohort-spooled-{Guid.NewGuid():N}");
        var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
        long offset = 0;
        foreach (var t in p)
        {
            RandomAccess.Write(file, t.Data, offset);
            offset += t.Data.Length;
        }
        return new SpooledParameters(path, file, p.Select(t => t.Name).ToArray(), p.Select(t => t.DType).ToArray(), p.Select(t => t.Shape).ToArray());
    }

    private static RoundContext Round() => new("r", 1, 1, new Selection(), Config.Empty, Config.Empty, new Random(1));

    [Theory]
    [InlineData("fedavg")]
    [InlineData("fedavgm")]
    public void Spooled_results_aggregate_to_the_same_bytes_as_results_in_memory(string strategy)
    {
        var global = Model(0);
        var results = Enumerable.Range(1, 3).Select(i => (Node: $"node-{i}", Parameters: Model(i), Examples: 10L * i)).ToArray();
        IStrategy Create() => strategy == "fedavg" ? new FedAvg() : new FedAvgM(Config.Empty);

        ParameterSet inMemory;
        using (var aggregation = Create().BeginAggregateFit(Round(), global))
        {
            foreach (var r in results) aggregation.Add(r.Node, new FitResult(r.Parameters, r.Examples, Metrics.Empty));
            inMemory = aggregation.Complete([]).Parameters;
        }
        ParameterSet fromDisk;
        using (var aggregation = Create().BeginAggregateFit(Round(), global))
        {
            // Arrival order reversed too: the sum is exact, so neither may matter.
            foreach (var r in results.Reverse())
            {
                using var spooled = Spool(r.Parameters);
                ((ISpooledFitAggregation)aggregation).Add(r.Node, spooled, r.Examples, Metrics.Empty);
            }
            fromDisk = aggregation.Complete([]).Parameters;
        }
        for (int i = 0; i < inMemory.Count; i++) Assert.Equal(inMemory[i].Data, fromDisk[i].Data);
        // FedAvg takes integer tensors from the node whose id sorts first, spooled or not.
        if (strategy == "fedavg") Assert.Equal(1, fromDisk["step"].Data[0]);
    }

    [Fact]
    public void Reading_the_sum_out_while_freeing_it_gives_the_same_model()
    {
        var template = Model(0);
        using var kept = new ReproducibleSum(template);
        using var released = new ReproducibleSum(template);
        foreach (int i in new[] { 1, 2 })
        {
            kept.Add(Model(i), i);
            released.Add(Model(i), i);
        }
        var expected = kept.ToParameterSet(1.0 / 3);
        var actual = released.ToParameterSet(1.0 / 3, release: true);
        Assert.Equal(expected["w"].Data, actual["w"].Data);
        Assert.Throws<ObjectDisposedException>(() => released.ToParameterSet(1.0));
    }
}
