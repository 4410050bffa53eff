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

    // A float32 tensor past one accumulator segment (so a segment is freed mid-tensor), a float64 one and an integer counter.
    private static ParameterSet LargeModel(int seed)
    {
        var random = new Random(seed);
        var w = Tensor.Zeros("w", DType.Float32, [ReproducibleSum.SegmentValues + ReproducibleSum.BlockValues + 77]);
        var span = w.AsFloat32();
        // Magnitudes that differ from block to block and from node to node, so blocks' quanta differ between terms
        // (within the sum's exact range: a spread of more than about 2^22 between terms would coarsen a block).
        for (int i = 0; i < span.Length; i++) span[i] = (float)((random.NextDouble() - 0.5) * Math.Pow(10, (i / ReproducibleSum.BlockValues + seed) % 4 - 2));
        var d = Tensor.Zeros("d", DType.Float64, [2 * ReproducibleSum.BlockValues + 5]);
        foreach (ref var v in d.AsFloat64()) v = (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-6, 7));
        var step = Tensor.Zeros("step", DType.Int64, [2]);
        step.Data[0] = (byte)seed;
        return new ParameterSet([w, d, step]);
    }

    private static ParameterSet Mean(IEnumerable<(string Node, ParameterSet Parameters, long Examples)> results, ParameterSet global, long holdBytes)
    {
        using var aggregation = new FedAvg.WeightedAverage(global) { SpoolHoldBytes = holdBytes };
        foreach (var r in results) ((ISpooledFitAggregation)aggregation).Add(r.Node, Spool(r.Parameters), r.Examples, Metrics.Empty);
        var mean = aggregation.Complete([]).Parameters;
        // Exact, so the order of terms cannot matter and any difference below is the fold's.
        Assert.True(aggregation.Exact);
        return mean;
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
        // Each from its own copy of the global model: FedAvgM writes the new model over the one it is given.
        using (var aggregation = Create().BeginAggregateFit(Round(), global.Clone()))
        {
            foreach (var r in results) aggregation.Add(r.Node, new FitResult(r.Parameters, r.Examples, Metrics.Empty));
            inMemory = aggregation.Complete([]).Parameters;
        }
        ParameterSet fromDisk;
        using (var aggregation = Create().BeginAggregateFit(Round(), global.Clone()))
        {
            // Arrival order reversed too: the sum is exact, so neither may matter.
            // The aggregation owns each file from here (and holds it until Complete).
            foreach (var r in results.Reverse()) ((ISpooledFitAggregation)aggregation).Add(r.Node, Spool(r.Parameters), r.Examples, Metrics.Empty);
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

    [Fact]
    public void Held_results_folded_segment_by_segment_give_the_same_bits_as_results_folded_as_they_arrive()
    {
        var global = LargeModel(0);
        var results = new[] { ("node-b", LargeModel(2), 7L), ("node-a", LargeModel(1), 3L), ("node-c", LargeModel(3), 11L) };
        long modelBytes = global.ByteCount;

        ParameterSet inMemory;
        using (var aggregation = new FedAvg.WeightedAverage(global))
        {
            foreach (var (node, p, n) in results) aggregation.Add(node, new FitResult(p, n, Metrics.Empty));
            inMemory = aggregation.Complete([]).Parameters;
        }
        // As before holding: every spooled result folded as it arrives.
        var streamed = Mean(results, global, holdBytes: 0);
        // Every one held, in two arrival orders.
        var held = Mean(results, global, holdBytes: 3 * modelBytes);
        var heldReversed = Mean(results.Reverse(), global, holdBytes: 3 * modelBytes);
        // The budget takes the first result only: the others are folded as they arrive, the first at Complete.
        var mixed = Mean(results, global, holdBytes: modelBytes);
        foreach (var actual in new[] { streamed, held, heldReversed, mixed })
        {
            for (int i = 0; i < inMemory.Count; i++) Assert.Equal(inMemory[i].Data, actual[i].Data);
        }
        // The integer tensor comes from the node whose id sorts first, whichever way it was folded.
        Assert.All(new[] { streamed, held, heldReversed, mixed }, m => Assert.Equal(1, m["step"].Data[0]));
        // Not a trivial mean: the values differ from every node's.
        Assert.NotEqual(results[0].Item2["w"].Data, held["w"].Data);
    }

    [Fact]
    public void Results_held_within_the_budget_stay_in_their_files_until_the_round_completes_and_are_deleted_after()
    {
        var global = Model(0);
        var spools = Enumerable.Range(1, 3).Select(i => Spool(Model(i))).ToArray();
        using var aggregation = new FedAvg.WeightedAverage(global) { SpoolHoldBytes = 2 * global.ByteCount };
        for (int i = 0; i < spools.Length; i++) ((ISpooledFitAggregation)aggregation).Add($"node-{i + 1}", spools[i], 10, Metrics.Empty);
        // Two fit the budget; the third was folded at once and its file deleted.
        Assert.Equal(2, aggregation.Held);
        Assert.Equal(1, ((ISpooledFitAggregation)aggregation).FoldedOnArrival);
        Assert.True(File.Exists(spools[0].Path) && File.Exists(spools[1].Path));
        Assert.False(File.Exists(spools[2].Path));
        aggregation.Complete([]);
        Assert.Equal(0, aggregation.Held);
        Assert.All(spools, s => Assert.False(File.Exists(s.Path)));
    }

    [Fact]
    public void An_aggregation_disposed_before_it_completes_deletes_the_files_it_holds()
    {
        var global = Model(0);
        var spools = Enumerable.Range(1, 2).Select(i => Spool(Model(i))).ToArray();
        var aggregation = new FedAvgM(Config.Empty).BeginAggregateFit(Round(), global);
        foreach (var (spool, i) in spools.Select((s, i) => (s, i))) ((ISpooledFitAggregation)aggregation).Add($"node-{i}", spool, 5, Metrics.Empty);
        Assert.All(spools, s => Assert.True(File.Exists(s.Path)));
        // A round that fails or a run that stops disposes its aggregation without completing it.
        aggregation.Dispose();
        Assert.All(spools, s => Assert.False(File.Exists(s.Path)));
    }

    [Fact]
    public void A_refused_spooled_result_is_deleted_and_leaves_the_aggregate_as_it_was()
    {
        var global = Model(0);
        ParameterSet expected;
        using (var aggregation = new FedAvg.WeightedAverage(global))
        {
            aggregation.Add("node-1", new FitResult(Model(1), 10, Metrics.Empty));
            expected = aggregation.Complete([]).Parameters;
        }
        using (var aggregation = new FedAvg.WeightedAverage(global) { SpoolHoldBytes = 8 * global.ByteCount })
        {
            var spooling = (ISpooledFitAggregation)aggregation;
            spooling.Add("node-1", Spool(Model(1)), 10, Metrics.Empty);
            // No examples; tensors of another model; a float64 value the weight takes past the double range.
            var noExamples = Spool(Model(2));
            Assert.Throws<AggregationException>(() => spooling.Add("node-0", noExamples, 0, Metrics.Empty));
            var renamed = Spool(new ParameterSet(Model(3).Select(t => new Tensor(t.Name + "x", t.DType, t.Shape, t.Data))));
            Assert.Contains("expected", Assert.Throws<AggregationException>(() => spooling.Add("node-0", renamed, 10, Metrics.Empty)).Message);
            // Fewer tensors than the model (the integer counter missing), sorting first: refused, not read.
            var partial = Spool(new ParameterSet([Model(4)["w"]]));
            Assert.Contains("tensors", Assert.Throws<AggregationException>(() => spooling.Add("node-0", partial, 10, Metrics.Empty)).Message);
            var huge = Tensor.Zeros("d", DType.Float64, [3]);
            huge.AsFloat64()[1] = 1e308;
            using var wide = new FedAvg.WeightedAverage(new ParameterSet([Tensor.Zeros("d", DType.Float64, [3])])) { SpoolHoldBytes = 1 << 20 };
            var overflowing = Spool(new ParameterSet([huge]));
            Assert.Contains("not finite", Assert.Throws<AggregationException>(() => ((ISpooledFitAggregation)wide).Add("node-0", overflowing, 10, Metrics.Empty)).Message);
            Assert.All(new[] { noExamples, renamed, partial, overflowing }, s => Assert.False(File.Exists(s.Path)));
            Assert.Equal(1, aggregation.Held);
            // node-0 sorts first but was refused: the integer tensor is still node-1's.
            var actual = aggregation.Complete([]).Parameters;
            for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Data, actual[i].Data);
        }
    }
}
