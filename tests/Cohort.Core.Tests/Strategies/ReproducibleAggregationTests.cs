using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

public sealed class ReproducibleAggregationTests
{
    // Values spread over many binades, including tiny, zero and negative ones, so float addition order would show.
    private static ParameterSet Model(int seed, int floats)
    {
        var random = new Random(seed);
        var w = Tensor.Zeros("w", DType.Float32, [floats]);
        foreach (ref var v in w.AsFloat32()) v = (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-30, 8)));
        w.AsFloat32()[0] = 0;
        var d = Tensor.Zeros("d", DType.Float64, [5]);
        foreach (ref var v in d.AsFloat64()) v = (random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-20, 2));
        var steps = new Tensor("steps", DType.Int64, [1], BitConverter.GetBytes((long)seed));
        return new ParameterSet([w, d, steps]);
    }

    private static readonly RoundContext Round = new("r", 1, 1, new Selection(), new Config([KeyValuePair.Create("learning_rate", Scalar.Of(0.1))]), Config.Empty, new Random(1));

    private static byte[] Aggregate(IStrategy strategy, ParameterSet global, IEnumerable<(string Node, FitResult Result)> results)
    {
        using var aggregation = strategy.BeginAggregateFit(Round, global);
        foreach (var (node, result) in results) aggregation.Add(node, result);
        return aggregation.Complete([]).Parameters.SelectMany(t => t.Data).ToArray();
    }

    private static (string, FitResult)[] Results(int count, int floats) =>
        Enumerable.Range(1, count).Select(i => ($"node-{i:00}", new FitResult(Model(i, floats), i * 37 + i % 3 * 100_000,
            new Metrics([KeyValuePair.Create("initial_train_loss", Scalar.Of(0.3 + i * 0.01))])))).ToArray();

    private static IEnumerable<T[]> Orders<T>(T[] items)
    {
        yield return items;
        yield return items.Reverse().ToArray();
        for (int seed = 1; seed <= 4; seed++)
        {
            var shuffled = (T[])items.Clone();
            new Random(seed).Shuffle(shuffled);
            yield return shuffled;
        }
    }

    [Theory]
    [InlineData(40_000, 9)]
    [InlineData(7, 5)]
    public void FedAvg_gives_a_byte_identical_model_whatever_the_arrival_order_and_batching(int floats, int count)
    {
        var global = Model(0, floats);
        var results = Results(count, floats);
        long model = global.ByteCount;
        var expected = Aggregate(new FedAvg(), global, results);
        foreach (var order in Orders(results))
        {
            foreach (long budget in new[] { 0, 2 * model, 3 * model, long.MaxValue })
                Assert.Equal(expected, Aggregate(new FedAvg(new StrategyServices(AggregationBufferBytes: budget)), global, order));
        }
        // The counter comes from the node whose id sorts first, not from whoever arrived first.
        using var last = new FedAvg().BeginAggregateFit(Round, global);
        foreach (var (node, result) in results.Reverse()) last.Add(node, result);
        Assert.Equal(1L, BitConverter.ToInt64(last.Complete([]).Parameters["steps"].Data));
    }

    [Theory]
    [InlineData("fedavgm")]
    [InlineData("fedadam")]
    [InlineData("fedyogi")]
    [InlineData("fedadagrad")]
    [InlineData("qfedavg")]
    [InlineData("fedprox")]
    [InlineData("krum")]
    [InlineData("fedtrimmedavg")]
    public void Sum_based_and_buffered_strategies_are_order_independent(string name)
    {
        var global = Model(0, 20_000);
        var results = Results(6, 20_000);
        byte[]? expected = null;
        foreach (var order in Orders(results))
        {
            var strategy = StrategyRegistry.CreateDefault().Create(name, Config.Empty, StrategyServices.None);
            var model = Aggregate(strategy, global.Clone(), order); // FedAvgM writes the new model over the one it is given
            expected ??= model;
            Assert.Equal(expected, model);
        }
    }

    [Fact]
    public void The_reproducible_mean_is_as_close_to_the_exact_mean_as_float32_allows()
    {
        var global = Model(0, 50_000);
        var results = Results(8, 50_000);
        var mean = new FedAvg().BeginAggregateFit(Round, global);
        foreach (var (node, result) in results) mean.Add(node, result);
        var w = mean.Complete([]).Parameters["w"].AsFloat32().ToArray();
        double total = results.Sum(r => (double)r.Item2.Examples);
        float largest = results.Max(r => r.Item2.Parameters["w"].AsFloat32().ToArray().Max(MathF.Abs));
        for (int i = 0; i < w.Length; i++)
        {
            double exact = 0;
            foreach (var (_, r) in results) exact += (double)r.Parameters["w"].AsFloat32()[i] * r.Examples;
            exact /= total;
            // One float32 rounding of the result plus 2^-31 of the block's largest value per term.
            Assert.True(Math.Abs(w[i] - exact) <= Math.Abs(exact) * 1.2e-7 + largest * 1e-8, $"value {i}: {w[i]} vs {exact}");
        }
    }

    [Fact]
    public void Blocks_too_wide_for_int64_are_coarsened_and_reported_not_exact()
    {
        var template = new ParameterSet([Tensor.FromFloat32("w", [2], [0, 0])]);
        using var sum = new ReproducibleSum(template);
        sum.Add(new ParameterSet([Tensor.FromFloat32("w", [2], [1e30f, 1])]), 1);
        Assert.True(sum.Exact);
        sum.Add(new ParameterSet([Tensor.FromFloat32("w", [2], [1e-30f, 1e-30f])]), 1);
        Assert.False(sum.Exact);
        Assert.Equal(1e30f, sum.ToParameterSet(1)["w"].AsFloat32()[0]);
    }

    [Fact]
    public void The_vector_and_scalar_paths_round_every_value_the_same_way()
    {
        // 33 values: the first 32 go through the vector loop, the last through the scalar tail; it holds a copy of value 0.
        var random = new Random(3);
        for (int trial = 0; trial < 50; trial++)
        {
            var template = new ParameterSet([Tensor.Zeros("f", DType.Float32, [33]), Tensor.Zeros("d", DType.Float64, [33])]);
            using var sum = new ReproducibleSum(template);
            for (int term = 0; term < 3; term++)
            {
                var f = Enumerable.Range(0, 33).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-12, 4)))).ToArray();
                var d = Enumerable.Range(0, 33).Select(_ => (random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-12, 4))).ToArray();
                f[32] = f[0];
                d[32] = d[0];
                sum.Add(new ParameterSet([Tensor.FromFloat32("f", [33], f), new Tensor("d", DType.Float64, [33], d.SelectMany(BitConverter.GetBytes).ToArray())]), random.Next(1, 100_000));
            }
            var result = sum.ToParameterSet(1.0 / 7);
            Assert.Equal(result["f"].AsFloat32()[0], result["f"].AsFloat32()[32]);
            Assert.Equal(result["d"].AsFloat64()[0], result["d"].AsFloat64()[32]);
        }
    }

    [Fact]
    public void A_non_finite_value_is_refused_naming_the_tensor()
    {
        using var sum = new ReproducibleSum(new ParameterSet([Tensor.FromFloat32("layer.bias", [2], [0, 0])]));
        var e = Assert.Throws<AggregationException>(() => sum.Add(new ParameterSet([Tensor.FromFloat32("layer.bias", [2], [float.PositiveInfinity, 1])]), 1));
        Assert.Contains("layer.bias", e.Message);
    }
}
