using Cohort.Learning.Data;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps.Tabular;

/// <summary>
/// The tabular app of a run whose settings need the federated statistics step, before the statistics
/// have come: it answers the statistics task with its training rows' statistics and refuses anything
/// else, since its features are not known until the server has combined every site's statistics.
/// </summary>
internal sealed class TabularStatisticsApp(TabularStatistics statistics, string nodeName) : IStatisticsClientApp
{
    /// <summary>The metric that carries the statistics (JSON text).</summary>
    public const string MetricName = "statistics";

    /// <summary>This site's statistics.</summary>
    public TabularStatistics Statistics { get; } = statistics;

    /// <inheritdoc />
    public Task<StatisticsResult> ComputeStatisticsAsync(Config config, CancellationToken ct) =>
        Task.FromResult(new StatisticsResult(Statistics.Rows, new Metrics([KeyValuePair.Create(MetricName, Scalar.Of(Statistics.ToJson()))])));

    /// <inheritdoc />
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => throw NoStatistics();

    /// <inheritdoc />
    public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) => throw NoStatistics();

    /// <inheritdoc />
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) => throw NoStatistics();

    private InvalidOperationException NoStatistics() => new(
        $"node '{nodeName}': the run's app settings (standardize: global, class_weight: balanced or inferred categories) need the federated statistics step before round 1, " +
        "and this task came without its statistics; the server must run the tabular app's statistics step");
}
