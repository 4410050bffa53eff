using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Base of the aggregations that need every update at once (coordinate-wise median and trimmed mean,
/// Krum, Bulyan): results are kept until the round completes. The built-in ones keep them in memory up
/// to the server's update memory budget (<see cref="StrategyServices.UpdateMemoryBytes"/>) and past it
/// on disk, in unlinked spill files that aggregation reads a chunk at a time; a spooled upload is kept in
/// the file it was received to. The buffer refuses a result that would take what it holds, in memory
/// and on disk, past <c>memory_limit_mb</c> (the node's result then counts as a failure).
/// </summary>
public abstract class BufferedAggregation : IFitAggregation, ISpillingFitAggregation
{
    private readonly string _strategy;
    private readonly long _memoryLimit;
    private readonly long _memoryBudget;
    private readonly string _spillFolder;
    private readonly List<HeldUpdate> _held = [];
    private long _bytes;
    private long _inMemory;

    /// <summary>A buffer that keeps every result in memory, up to <paramref name="memoryLimitBytes"/>.</summary>
    public BufferedAggregation(string strategy, long memoryLimitBytes)
        : this(strategy, memoryLimitBytes, long.MaxValue, null)
    {
    }

    /// <summary>A buffer that keeps results in memory up to the services' update budget and spills the rest to disk.</summary>
    private protected BufferedAggregation(string strategy, long memoryLimitBytes, StrategyServices services)
        : this(strategy, memoryLimitBytes, services.UpdateMemoryBytes, services.SpillFolder)
    {
    }

    private BufferedAggregation(string strategy, long memoryLimitBytes, long memoryBudgetBytes, string? spillFolder)
    {
        _strategy = strategy;
        _memoryLimit = memoryLimitBytes;
        _memoryBudget = memoryBudgetBytes;
        _spillFolder = spillFolder ?? Path.GetTempPath();
    }

    /// <summary>Results held on disk so far (spilled or kept as spooled).</summary>
    internal int OnDisk => _held.Count(h => h.OnDisk);

    /// <inheritdoc />
    public void Add(string node, FitResult result)
    {
        long bytes = result.Parameters.ByteCount;
        CheckLimit(bytes);
        HeldUpdate held;
        if (_inMemory + bytes <= _memoryBudget)
        {
            held = new HeldUpdate(node, result.Parameters, result.Examples, result.Metrics);
            _inMemory += bytes;
        }
        else
        {
            SpooledParameters spilled;
            try
            {
                spilled = SpooledParameters.Spill(result.Parameters, _spillFolder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new AggregationException($"{_strategy} cannot keep node '{node}''s update on disk in {_spillFolder}: {e.Message}");
            }
            held = new HeldUpdate(node, spilled, result.Examples, result.Metrics);
        }
        _held.Add(held);
        _bytes += bytes;
    }

    /// <inheritdoc />
    void ISpillingFitAggregation.Hold(string node, SpooledParameters parameters, long examples, Metrics metrics)
    {
        var owned = parameters;
        try
        {
            long bytes = parameters.ByteCount;
            CheckLimit(bytes);
            if (_inMemory + bytes <= _memoryBudget)
            {
                // Within the budget a result is faster to aggregate from memory than from its file.
                _held.Add(new HeldUpdate(node, parameters.Load(), examples, metrics));
                _inMemory += bytes;
            }
            else
            {
                _held.Add(new HeldUpdate(node, parameters, examples, metrics));
                owned = null;
            }
            _bytes += bytes;
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private void CheckLimit(long bytes)
    {
        if (_bytes + bytes > _memoryLimit)
            throw new AggregationException(
                $"{_strategy} keeps every update until the round ends: {_held.Count + 1} results of {bytes / 1048576.0:0.#} MiB exceed memory_limit_mb {_memoryLimit / 1048576} (raise it or sample fewer nodes)");
    }

    /// <inheritdoc />
    public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
    {
        if (_held.Count == 0) throw new AggregationException("no fit results to aggregate");
        // Node order, not arrival order: the same results give the same model however they arrived.
        _held.Sort((a, b) => string.CompareOrdinal(a.Node, b.Node));
        var metrics = new WeightedMetrics();
        foreach (var h in _held) metrics.Add(h.Metrics, h.Examples);
        return new FitAggregate(Combine(_held), metrics.ToMetrics());
    }

    /// <summary>The new global model from all results (at least one), all in memory.</summary>
    protected abstract ParameterSet Combine(IReadOnlyList<NodeResult<FitResult>> results);

    /// <summary>
    /// The new global model from all held updates, in node order. The built-in strategies read them
    /// chunk by chunk wherever they are; the default loads every one for <see cref="Combine(IReadOnlyList{NodeResult{FitResult}})"/>
    /// (a subclass built with the public constructor holds them all in memory anyway).
    /// </summary>
    private protected virtual ParameterSet Combine(IReadOnlyList<HeldUpdate> updates) =>
        Combine(updates.Select(u => new NodeResult<FitResult>(u.Node, new FitResult(u.InMemory ?? Load(u), u.Examples, u.Metrics))).ToArray());

    private static ParameterSet Load(HeldUpdate update) => new(Enumerable.Range(0, update.Count).Select(update.TensorAt));

    /// <summary>Releases what the buffer holds, spill files included.</summary>
    public void Dispose()
    {
        foreach (var h in _held) h.Dispose();
        _held.Clear();
        GC.SuppressFinalize(this);
    }

    /// <summary>The memory bound the built-in buffering strategies state in their descriptors.</summary>
    internal const string HeldUpdatesBound =
        "2 models (the global and the new one) + the round's updates up to the server's --update-memory-mb (1024 by default); past it updates stay on disk, 1 MiB of buffer each";

    /// <summary>Plan key bounding the buffer.</summary>
    public const string MemoryLimitKey = "memory_limit_mb";

    /// <summary>The <c>memory_limit_mb</c> parameter every buffering strategy takes.</summary>
    public static StrategyParameter MemoryLimitParameter { get; } =
        StrategyParameter.Integer(MemoryLimitKey, 4096, "updates a round may hold, in memory and on disk, in MiB; the result past it counts as a failure", min: 1);

    /// <summary>Reads <c>memory_limit_mb</c> (default 4096) in bytes.</summary>
    public static long ReadMemoryLimit(StrategyParameters p) => (long)p.Int(MemoryLimitKey, 4096, 1) * 1048576;
}
