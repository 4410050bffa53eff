using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

public sealed class FedAvgTests
{
    private static RoundContext Round(Selection? selection = null, int seed = 1) =>
        new("run-1", 1, 3, selection ?? new Selection(), new Config([new("lr", 0.1)]), new Config([new("batch_size", 8)]), new Random(seed));

    private static Tensor F64(string name, params double[] values)
    {
        var t = Tensor.Zeros(name, DType.Float64, [values.Length]);
        values.CopyTo(t.AsFloat64());
        return t;
    }

    private static Tensor I64(string name, long value) => new(name, DType.Int64, [], BitConverter.GetBytes(value));

    private static ParameterSet Model(float[] w, double b, long steps) =>
        new([Tensor.FromFloat32("w", [w.Length], w), F64("b", b), I64("steps", steps)]);

    private static ParameterSet Global() => Model([0f, 0f, 0f], 0, 0);

    private static Metrics M(params (string Key, Scalar Value)[] entries) => new(entries.Select(e => KeyValuePair.Create(e.Key, e.Value)));

    private static FitAggregate Aggregate(params FitResult[] results)
    {
        using var aggregation = new FedAvg().BeginAggregateFit(Round(), Global());
        for (int i = 0; i < results.Length; i++) aggregation.Add($"node-{i}", results[i]);
        return aggregation.Complete([]);
    }

    [Fact]
    public void FedAvg_weights_results_by_example_count()
    {
        // Node A trained on 10 examples, node B on 30: weights 10/40 = 0.25 and 30/40 = 0.75.
        //   w[0] = 0.25·1  + 0.75·5  = 0.25 + 3.75  = 4
        //   w[1] = 0.25·2  + 0.75·6  = 0.5  + 4.5   = 5
        //   w[2] = 0.25·3  + 0.75·-1 = 0.75 - 0.75  = 0
        //   w[3] = 0.25·-8 + 0.75·0.5 = -2  + 0.375 = -1.625
        var a = new FitResult(Model([1f, 2f, 3f, -8f], 0.5, 100), 10, Metrics.Empty);
        var b = new FitResult(Model([5f, 6f, -1f, 0.5f], 1.5, 300), 30, Metrics.Empty);

        using var aggregation = new FedAvg().BeginAggregateFit(Round(), Model([0f, 0f, 0f, 0f], 0, 0));
        aggregation.Add("a", a);
        aggregation.Add("b", b);
        var result = aggregation.Complete([]);

        Assert.Equal([4f, 5f, 0f, -1.625f], result.Parameters["w"].AsFloat32().ToArray());
    }

    [Fact]
    public void FedAvg_averages_float64_tensors_in_double_precision()
    {
        // b = (10·0.1 + 30·0.3) / 40 = (1 + 9) / 40 = 0.25; c = (10·1e-12 + 30·(1 + 1e-12)) / 40 = 0.75 + 1e-12.
        var a = new FitResult(new ParameterSet([F64("b", 0.1), F64("c", 1e-12)]), 10, Metrics.Empty);
        var b = new FitResult(new ParameterSet([F64("b", 0.3), F64("c", 1 + 1e-12)]), 30, Metrics.Empty);

        using var aggregation = new FedAvg().BeginAggregateFit(Round(), a.Parameters.ZerosLike());
        aggregation.Add("a", a);
        aggregation.Add("b", b);
        var result = aggregation.Complete([]).Parameters;

        // Each term is rounded to 2^-45 of its own largest value: far below what float32 could hold.
        Assert.Equal(0.25, result["b"].AsFloat64()[0], 1e-13);
        Assert.Equal(0.75 + 1e-12, result["c"].AsFloat64()[0], 1e-13);
    }

    [Fact]
    public void FedAvg_of_a_single_result_returns_that_result()
    {
        var only = new FitResult(Model([1.5f, -2f, 1e-3f], 7.25, 9), 17, Metrics.Empty);

        var result = Aggregate(only).Parameters;

        Assert.Equal([1.5f, -2f, 1e-3f], result["w"].AsFloat32().ToArray());
        Assert.Equal(7.25, result["b"].AsFloat64()[0]);
    }

    [Fact]
    public void FedAvg_takes_integer_tensors_from_the_first_result()
    {
        var result = Aggregate(
            new FitResult(Model([0f, 0f, 0f], 0, 100), 10, Metrics.Empty),
            new FitResult(Model([0f, 0f, 0f], 0, 300), 30, Metrics.Empty));

        Assert.Equal(100, BitConverter.ToInt64(result.Parameters["steps"].Data));
    }

    [Fact]
    public void FedAvg_result_has_the_global_models_specs_and_does_not_touch_the_inputs()
    {
        var global = Global();
        var a = new FitResult(Model([1f, 2f, 3f], 1, 1), 10, Metrics.Empty);
        var aBefore = a.Parameters.Clone();

        using var aggregation = new FedAvg().BeginAggregateFit(Round(), global);
        aggregation.Add("a", a);
        var result = aggregation.Complete([]).Parameters;

        Assert.Null(global.FindMismatch(result));
        Assert.Equal([0f, 0f, 0f], global["w"].AsFloat32().ToArray());
        Assert.Equal(aBefore["w"].Data, a.Parameters["w"].Data);
        Assert.NotSame(a.Parameters["w"].Data, result["w"].Data);
    }

    [Fact]
    public void FedAvg_fit_metrics_are_example_weighted_means()
    {
        // accuracy: (10·0.5 + 30·0.9) / 40 = (5 + 27) / 40 = 0.8
        // seconds:  only A reports it, so its mean over the reporting nodes is A's value, 12.
        // epochs:   integers average to a double, (10·1 + 30·2) / 40 = 1.75
        // optimizer: not a number, dropped.
        var a = new FitResult(Model([0f, 0f, 0f], 0, 0), 10, M(("accuracy", 0.5), ("seconds", 12.0), ("epochs", 1), ("optimizer", "sgd")));
        var b = new FitResult(Model([0f, 0f, 0f], 0, 0), 30, M(("accuracy", 0.9), ("epochs", 2), ("optimizer", "adam")));

        var metrics = Aggregate(a, b).Metrics;

        Assert.Equal(0.8, metrics["accuracy"].AsDouble(), 1e-12);
        Assert.Equal(12.0, metrics["seconds"].AsDouble(), 1e-12);
        Assert.Equal(ScalarKind.Double, metrics["epochs"].Kind);
        Assert.Equal(1.75, metrics["epochs"].AsDouble(), 1e-12);
        Assert.False(metrics.ContainsKey("optimizer"));
    }

    [Fact]
    public void Completing_a_fit_aggregation_without_results_throws_AggregationException()
    {
        using var aggregation = new FedAvg().BeginAggregateFit(Round(), Global());

        var e = Assert.Throws<AggregationException>(() => aggregation.Complete([new NodeFailure("a", "timed out")]));
        Assert.Contains("no fit results", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void A_fit_result_without_examples_is_rejected_naming_the_node_and_not_counted(long examples)
    {
        using var aggregation = new FedAvg().BeginAggregateFit(Round(), Global());

        var e = Assert.Throws<AggregationException>(() => aggregation.Add("site-7", new FitResult(Model([9f, 9f, 9f], 9, 9), examples, Metrics.Empty)));
        Assert.Contains("'site-7'", e.Message);
        Assert.Contains($"{examples} training examples", e.Message);

        aggregation.Add("site-1", new FitResult(Model([1f, 2f, 3f], 4, 5), 3, Metrics.Empty));
        var result = aggregation.Complete([]).Parameters;
        Assert.Equal([1f, 2f, 3f], result["w"].AsFloat32().ToArray());
        Assert.Equal(5, BitConverter.ToInt64(result["steps"].Data));
    }

    [Fact]
    public void AggregateEvaluate_weights_loss_and_metrics_by_example_count()
    {
        // loss:     (10·2.0 + 30·1.0) / 40 = 50 / 40 = 1.25
        // accuracy: A got 7 of 10 right, B 27 of 30: pooled (7 + 27) / (10 + 30) = 34 / 40 = 0.85
        var results = new[]
        {
            new NodeResult<EvaluateResult>("a", new EvaluateResult(2.0, 10, M(("accuracy", 7 / 10.0)))),
            new NodeResult<EvaluateResult>("b", new EvaluateResult(1.0, 30, M(("accuracy", 27 / 30.0)))),
        };

        var aggregate = new FedAvg().AggregateEvaluate(Round(), results, []);

        Assert.Equal(1.25, aggregate.Loss, 1e-12);
        Assert.Equal(40, aggregate.Examples);
        Assert.Equal(34 / 40.0, aggregate.Metrics["accuracy"].AsDouble(), 1e-12);
    }

    [Fact]
    public void AggregateEvaluate_pooled_accuracy_equals_total_correct_over_total_examples()
    {
        var rng = new Random(7);
        var results = new List<NodeResult<EvaluateResult>>();
        long correct = 0, total = 0;
        for (int i = 0; i < 25; i++)
        {
            int n = rng.Next(1, 500);
            int c = rng.Next(0, n + 1);
            correct += c;
            total += n;
            results.Add(new($"n{i}", new EvaluateResult(1.0, n, M(("accuracy", (double)c / n)))));
        }

        var aggregate = new FedAvg().AggregateEvaluate(Round(), results, []);

        Assert.Equal(total, aggregate.Examples);
        Assert.Equal((double)correct / total, aggregate.Metrics["accuracy"].AsDouble(), 1e-12);
    }

    [Fact]
    public void AggregateEvaluate_ignores_results_without_examples()
    {
        // A node with an empty test split reports loss NaN on 0 examples; it must not poison the pooled loss.
        var results = new[]
        {
            new NodeResult<EvaluateResult>("a", new EvaluateResult(2.0, 10, M(("accuracy", 0.7)))),
            new NodeResult<EvaluateResult>("empty", new EvaluateResult(double.NaN, 0, M(("accuracy", double.NaN)))),
            new NodeResult<EvaluateResult>("b", new EvaluateResult(1.0, 30, M(("accuracy", 0.9)))),
        };

        var aggregate = new FedAvg().AggregateEvaluate(Round(), results, []);

        Assert.Equal(1.25, aggregate.Loss, 1e-12);
        Assert.Equal(40, aggregate.Examples);
        Assert.Equal(0.85, aggregate.Metrics["accuracy"].AsDouble(), 1e-12);
    }

    [Fact]
    public void AggregateEvaluate_without_results_has_NaN_loss_and_no_metrics()
    {
        var aggregate = new FedAvg().AggregateEvaluate(Round(), [], [new NodeFailure("a", "offline")]);

        Assert.True(double.IsNaN(aggregate.Loss));
        Assert.Equal(0, aggregate.Examples);
        Assert.Empty(aggregate.Metrics);
    }

    [Fact]
    public void ConfigureFit_sends_the_global_model_and_fit_config_to_the_sampled_nodes()
    {
        var global = Global();
        var round = Round(new Selection(MinFit: 2, FractionFit: 0.5));

        var tasks = new FedAvg().ConfigureFit(round, global, ["d", "a", "c", "b", "e", "f"]);

        Assert.Equal(3, tasks.Count);
        Assert.Equal(3, tasks.Select(t => t.Node).Distinct().Count());
        Assert.All(tasks, t => Assert.Same(global, t.Parameters));
        Assert.All(tasks, t => Assert.Same(round.FitConfig, t.Config));
    }

    [Fact]
    public void ConfigureEvaluate_sends_the_evaluate_config_and_is_skipped_at_fraction_zero()
    {
        var global = Global();
        var round = Round(new Selection(MinEvaluate: 1, FractionEvaluate: 1.0));

        var tasks = new FedAvg().ConfigureEvaluate(round, global, ["a", "b"]);
        var none = new FedAvg().ConfigureEvaluate(Round(new Selection(MinEvaluate: 2, FractionEvaluate: 0)), global, ["a", "b"]);

        Assert.Equal(["a", "b"], tasks.Select(t => t.Node));
        Assert.All(tasks, t => Assert.Same(round.EvaluateConfig, t.Config));
        Assert.Empty(none);
    }

    [Fact]
    public async Task FedAvg_offers_the_services_initial_parameters_and_central_evaluator()
    {
        var initial = Global();
        int? evaluatedRound = null;
        var services = new StrategyServices(initial, (round, p, ct) =>
        {
            evaluatedRound = round;
            return Task.FromResult<EvaluateResult?>(new EvaluateResult(0.5, 3, Metrics.Empty));
        });

        var fedavg = new FedAvg(services);

        Assert.Equal("fedavg", fedavg.Name);
        Assert.Same(initial, fedavg.InitializeParameters());
        Assert.Equal(0.5, (await fedavg.EvaluateCentralAsync(Round(), initial, CancellationToken.None))!.Loss);
        Assert.Equal(1, evaluatedRound);
        Assert.Null(new FedAvg().InitializeParameters());
        Assert.Null(await new FedAvg().EvaluateCentralAsync(Round(), initial, CancellationToken.None));
    }

    [Fact]
    public void FedAvg_is_registered_by_default_case_insensitively()
    {
        var registry = StrategyRegistry.CreateDefault();

        Assert.IsType<FedAvg>(registry.Create("FedAvg", Config.Empty, StrategyServices.None));
        var e = Assert.Throws<KeyNotFoundException>(() => registry.Create("fedsgd", Config.Empty, StrategyServices.None));
        Assert.Contains("'fedsgd'", e.Message);
        Assert.Contains("fedavg", e.Message);
    }
}
