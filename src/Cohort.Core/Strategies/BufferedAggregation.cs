using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Base of the aggregations that need every update at once (coordinate-wise median and trimmed mean,
/// Krum, Bulyan): results are kept until the round completes, so memory grows with the number of
/// results × model size. The buffer refuses a result that would take it past <c>memory_limit_mb</c>
/// (the node's result then counts as a failure) instead of exhausting the server.
/// </summary>
public abstract class BufferedAggregation(string strategy, long memoryLimitBytes) : IFitAggregation
{
    private readonly List<NodeResult<FitResult>> _results = [];
    private long _bytes;

    /// <inheritdoc />
    public void Add(string node, FitResult result)
    {
        long bytes = result.Parameters.ByteCount;
        if (_bytes + bytes > memoryLimitBytes)
            throw new AggregationException(
                $"{strategy} keeps every update until the round ends: {_results.Count + 1} results of {bytes / 1048576.0:0.#} MiB exceed memory_limit_mb {memoryLimitBytes / 1048576} (raise it or sample fewer nodes)");
        _results.Add(new NodeResult<FitResult>(node, result));
        _bytes += bytes;
    }

    /// <inheritdoc />
    public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
    {
        if (_results.Count == 0) throw new AggregationException("no fit results to aggregate");
        // Node order, not arrival order: the same results give the same model however they arrived.
        _results.Sort((a, b) => string.CompareOrdinal(a.Node, b.Node));
        var metrics = new WeightedMetrics();
        foreach (var r in _results) metrics.Add(r.Result.Metrics, r.Result.Examples);
        return new FitAggregate(Combine(_results), metrics.ToMetrics());
    }

    /// <summary>The new global model from all results (at least one).</summary>
    protected abstract ParameterSet Combine(IReadOnlyList<NodeResult<FitResult>> results);

    /// <inheritdoc />
    public void Dispose() => _results.Clear();

    /// <summary>Plan key bounding the buffer.</summary>
    public const string MemoryLimitKey = "memory_limit_mb";

    /// <summary>The <c>memory_limit_mb</c> parameter every buffering strategy takes.</summary>
    public static StrategyParameter MemoryLimitParameter { get; } =
        StrategyParameter.Integer(MemoryLimitKey, 4096, "pending results a round may hold, in MiB; the result past it counts as a failure", min: 1);

    /// <summary>Reads <c>memory_limit_mb</c> (default 4096) in bytes.</summary>
    public static long ReadMemoryLimit(StrategyParameters p) => (long)p.Int(MemoryLimitKey, 4096, 1) * 1048576;
}
