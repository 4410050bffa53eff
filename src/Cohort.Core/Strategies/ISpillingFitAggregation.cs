using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// A fit aggregation that needs every update at once and can keep a result in the file it was received
/// to, reading it a chunk at a time when the round completes, instead of loading it (median, Krum,
/// Bulyan past the server's update memory budget).
/// </summary>
internal interface ISpillingFitAggregation
{
    /// <summary>Holds one node's spooled result until the round completes; takes ownership of <paramref name="parameters"/>, also when it throws.</summary>
    void Hold(string node, SpooledParameters parameters, long examples, Metrics metrics);
}
