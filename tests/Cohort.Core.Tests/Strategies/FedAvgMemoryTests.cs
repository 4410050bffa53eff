using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;
using Xunit.Abstractions;

namespace Cohort.Tests.Strategies;

/// <summary>Tests that measure the whole process's managed heap run alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(MemoryMeasurements), DisableParallelization = true)]
public sealed class MemoryMeasurements;

[Collection(nameof(MemoryMeasurements))]
public sealed class FedAvgMemoryTests(ITestOutputHelper output)
{
    private const int Elements = 1 << 20; // 1M float32: a 4 MB model
    private const long ModelBytes = Elements * sizeof(float);
    private const int Results = 50;

    /// <summary>Node i sends a model filled with (i % 7) - 3 after training on 1 + i % 4 examples; created only when asked for.</summary>
    private static IEnumerable<(string Node, FitResult Result)> LazyResults()
    {
        for (int i = 0; i < Results; i++)
        {
            var w = Tensor.Zeros("w", DType.Float32, [Elements]);
            w.AsFloat32().Fill((i % 7) - 3);
            yield return ($"node-{i}", new FitResult(new ParameterSet([w]), 1 + i % 4, new Metrics([new("accuracy", 0.5)])));
        }
    }

    [Fact]
    public void FedAvg_streams_50_results_of_a_4_MB_model_in_about_two_models_of_memory()
    {
        var global = new ParameterSet([Tensor.Zeros("w", DType.Float32, [Elements])]);
        using var aggregation = new FedAvg().BeginAggregateFit(new RoundContext("r", 1, 1, new Selection(), Config.Empty, Config.Empty, new Random(1)), global);

        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedByAdd = 0;
        long peakGrowth = 0;
        int added = 0;
        foreach (var (node, result) in LazyResults())
        {
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            aggregation.Add(node, result);
            allocatedByAdd += GC.GetAllocatedBytesForCurrentThread() - a0;
            if (++added % 10 == 0) peakGrowth = Math.Max(peakGrowth, GC.GetTotalMemory(forceFullCollection: true) - heapBefore);
        }
        var aggregate = aggregation.Complete([]);
        peakGrowth = Math.Max(peakGrowth, GC.GetTotalMemory(forceFullCollection: true) - heapBefore);

        output.WriteLine($"Add allocated {allocatedByAdd:N0} bytes in all; peak heap growth {peakGrowth:N0} bytes ({(double)peakGrowth / ModelBytes:F2} models)");
        // Add folds into the running sum: it allocates next to nothing however big the model is …
        Assert.True(allocatedByAdd < ModelBytes / 4, $"Add allocated {allocatedByAdd:N0} bytes over {Results} results");
        // … and no result outlives its Add: the heap holds at most the int64 sum (two models) plus the result being added.
        Assert.True(peakGrowth < 3 * ModelBytes, $"managed heap grew by {peakGrowth:N0} bytes ({(double)peakGrowth / ModelBytes:F2} models)");

        // Σ nᵢ·vᵢ / Σ nᵢ over the same pattern, computed independently.
        double sum = 0, weights = 0;
        for (int i = 0; i < Results; i++)
        {
            sum += (1 + i % 4) * ((i % 7) - 3.0);
            weights += 1 + i % 4;
        }
        var w = aggregate.Parameters["w"].AsFloat32();
        Assert.Equal(sum / weights, w[0], 1e-5);
        Assert.Equal(sum / weights, w[^1], 1e-5);
        Assert.Equal(0.5, aggregate.Metrics["accuracy"].AsDouble(), 1e-12);
    }
}
