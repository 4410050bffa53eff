using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// A fit aggregation that folds a result straight from the file it was received to, a block at a time
/// (now or when the round completes), so a large result costs the server no memory of its own (sum-based strategies). Aggregations without
/// it are given the result loaded into memory.
/// </summary>
internal interface ISpooledFitAggregation
{
    /// <summary>
    /// Folds one node's spooled result in, the same as <see cref="IFitAggregation.Add"/> with it loaded; takes
    /// ownership of <paramref name="parameters"/>, also when it throws (it may hold the file until the round completes).
    /// </summary>
    void Add(string node, SpooledParameters parameters, long examples, Metrics metrics);

    /// <summary>Spooled results folded as they arrived because holding them would have passed the disk budget (the whole accumulator was then written).</summary>
    int FoldedOnArrival { get; }
}
