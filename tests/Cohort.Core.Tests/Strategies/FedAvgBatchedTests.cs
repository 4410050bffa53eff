using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

public sealed class FedAvgBatchedTests
{
    private static ParameterSet Model(int seed, int floats)
    {
        var random = new Random(seed);
        var w = Tensor.Zeros("w", DType.Float32, [floats]);
        foreach (ref var v in w.AsFloat32()) v = (float)random.NextDouble() - 0.5f;
        var d = Tensor.Zeros("d", DType.Float64, [3]);
        foreach (ref var v in d.AsFloat64()) v = random.NextDouble();
        var counter = Tensor.FromFloat32("c", [1], [seed]);
        var steps = new Tensor("steps", DType.Int64, [1], BitConverter.GetBytes((long)seed));
        return new ParameterSet([w, d, counter, steps]);
    }

    private static ParameterSet Aggregate(long budget, int floats, int results)
    {
        var template = Model(0, floats);
        var context = new RoundContext("r", 1, 1, new Selection(), Config.Empty, Config.Empty, new Random(1));
        using var aggregation = new FedAvg(new StrategyServices(AggregationBufferBytes: budget)).BeginAggregateFit(context, template);
        for (int i = 1; i <= results; i++) aggregation.Add($"n{i}", new FitResult(Model(i, floats), i * 3, Metrics.Empty));
        return aggregation.Complete([]).Parameters;
    }

    [Theory]
    [InlineData(200_003, 7)]
    [InlineData(5, 3)]
    public void Batched_tiled_folding_gives_bit_identical_results_to_folding_each_result_at_once(int floats, int results)
    {
        var streamed = Aggregate(0, floats, results);
        var batched = Aggregate(long.MaxValue, floats, results);
        var partly = Aggregate(3L * floats * sizeof(float), floats, results);

        for (int t = 0; t < streamed.Count; t++)
        {
            Assert.Equal(streamed[t].Data, batched[t].Data);
            Assert.Equal(streamed[t].Data, partly[t].Data);
        }
        // Integer tensors take the first result's value.
        Assert.Equal(1L, BitConverter.ToInt64(batched["steps"].Data));
    }
}
