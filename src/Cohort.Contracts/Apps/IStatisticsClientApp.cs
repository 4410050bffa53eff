using Cohort.Records;

namespace Cohort.Apps;

/// <summary>
/// A client app that takes part in the federated statistics step before round 1: it describes its
/// local training data (counts, sums, vocabularies, schema) without sending any row.
/// </summary>
public interface IStatisticsClientApp : IClientApp
{
    /// <summary>Statistics of the local training data, in the app's own format.</summary>
    Task<StatisticsResult> ComputeStatisticsAsync(Config config, CancellationToken ct);
}

/// <summary>What a node's statistics task returns: the training rows described and the statistics as metrics.</summary>
/// <param name="Examples">Training rows the statistics describe.</param>
/// <param name="Metrics">The statistics, in the app's own format (the tabular app sends one JSON text).</param>
public sealed record StatisticsResult(long Examples, Metrics Metrics);
