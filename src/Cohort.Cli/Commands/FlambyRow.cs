using System.Globalization;
using Cohort.Records;

namespace Cohort.Cli.Commands;

/// <summary>One strategy's settings in a Fed-Heart-Disease table, and FLamby's published result for it.</summary>
/// <param name="Strategy">Plan strategy name ("fedavg", or "pooled" for the pooled baseline).</param>
/// <param name="ClientLearningRate">The nodes' SGD learning rate (the pooled baseline's Adam rate).</param>
/// <param name="Parameters">Strategy parameters.</param>
/// <param name="Published">FLamby's published mean test accuracy over the four hospitals (mean of its seeds 42–46).</param>
/// <param name="PublishedPerSeed">FLamby's per-seed means (flamby/results/results_benchmark_fed_heart_disease, seeds 42–46).</param>
internal sealed record FlambyRow(string Strategy, double ClientLearningRate, Config Parameters, double Published, IReadOnlyList<double> PublishedPerSeed)
{
    /// <summary>The key of the client learning rate in overrides and tuning grids.</summary>
    public const string LearningRateKey = "learning_rate";

    /// <summary>This row with <paramref name="overrides"/> applied: <c>learning_rate</c> sets the client rate, other keys the strategy parameters.</summary>
    public FlambyRow With(Config overrides)
    {
        double lr = overrides.TryGetValue(LearningRateKey, out var v) ? v.AsDouble() : ClientLearningRate;
        return this with { ClientLearningRate = lr, Parameters = Parameters.With(overrides.Where(kv => kv.Key != LearningRateKey)) };
    }

    /// <summary>"learning_rate=0.001 proximal_mu=0.01".</summary>
    public string Describe() =>
        string.Join(' ', Parameters.Prepend(KeyValuePair.Create(LearningRateKey, Scalar.Of(ClientLearningRate)))
            .Select(kv => $"{kv.Key}={(kv.Value.Kind == ScalarKind.Double ? kv.Value.AsDouble().ToString("G6", CultureInfo.InvariantCulture) : kv.Value.ToString())}"));
}
