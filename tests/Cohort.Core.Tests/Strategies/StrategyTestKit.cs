using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

/// <summary>Small parameter sets and one-call rounds for strategy specifications.</summary>
internal static class StrategyTestKit
{
    public static ParameterSet Model(params float[] w) => new([Tensor.FromFloat32("w", [w.Length], w)]);

    public static float[] Values(ParameterSet p, string name = "w") => p[name].AsFloat32().ToArray();

    public static Config Params(params (string Key, Scalar Value)[] entries) =>
        new(entries.Select(e => KeyValuePair.Create(e.Key, e.Value)));

    public static RoundContext Round(int round = 1, double learningRate = 0.1) =>
        new("test", round, 10, new Selection(), new Config([KeyValuePair.Create("learning_rate", Scalar.Of(learningRate))]), Config.Empty, new Random(1));

    public static FitResult Fit(float[] w, long examples = 1, double? initialLoss = null) =>
        new(Model(w), examples, initialLoss is { } l ? new Metrics([KeyValuePair.Create("initial_train_loss", Scalar.Of(l))]) : Metrics.Empty);

    /// <summary>One aggregation of <paramref name="results"/> (node names n0, n1, …) from <paramref name="global"/>.</summary>
    public static ParameterSet Aggregate(IStrategy strategy, ParameterSet global, params FitResult[] results) =>
        Aggregate(strategy, Round(), global, results);

    public static ParameterSet Aggregate(IStrategy strategy, RoundContext round, ParameterSet global, params FitResult[] results)
    {
        using var aggregation = strategy.BeginAggregateFit(round, global);
        for (int i = 0; i < results.Length; i++) aggregation.Add($"n{i}", results[i]);
        return aggregation.Complete([]).Parameters;
    }

    public static void Near(float expected, float actual, float tolerance = 1e-5f) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"expected {expected}, got {actual}");

    public static void Near(float[] expected, float[] actual, float tolerance = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Near(expected[i], actual[i], tolerance);
    }
}
