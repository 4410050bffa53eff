using System.Collections.Concurrent;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Models;

/// <summary>Models kept in memory (engine tests, throw-away runs); a saved model is copied so that later changes to it do not leak in.</summary>
internal sealed class InMemoryModelStore : IModelStore
{
    private readonly ConcurrentDictionary<(string Run, int Round), ParameterSet> _models = new();
    private readonly ConcurrentDictionary<(string Run, int Round), ParameterSet> _checkpoints = new();
    private readonly ConcurrentDictionary<string, Config> _statistics = new();
    private readonly ConcurrentDictionary<(string Run, int Round, string Key), ParameterSet> _results = new();

    /// <inheritdoc />
    public Task SaveAsync(string runId, int round, ParameterSet parameters, CancellationToken ct)
    {
        _models[(runId, round)] = parameters.Clone();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<ParameterSet?> LoadAsync(string runId, int round, CancellationToken ct) =>
        Task.FromResult(_models.TryGetValue((runId, round), out var p) ? p.Clone() : null);

    /// <inheritdoc />
    public Task SaveCheckpointAsync(string runId, int round, StrategyCheckpoint checkpoint, CancellationToken ct)
    {
        // Encoded (which copies the tensors) so that the strategy's later rounds do not leak in.
        _checkpoints[(runId, round)] = CheckpointCodec.Encode(checkpoint);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<StrategyCheckpoint?> LoadCheckpointAsync(string runId, int round, CancellationToken ct) =>
        Task.FromResult(_checkpoints.TryGetValue((runId, round), out var p) ? CheckpointCodec.Decode(p.Clone()) : null);

    /// <inheritdoc />
    public Task SaveStatisticsAsync(string runId, Config statistics, CancellationToken ct)
    {
        _statistics[runId] = statistics;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<Config?> LoadStatisticsAsync(string runId, CancellationToken ct) =>
        Task.FromResult(_statistics.TryGetValue(runId, out var s) ? s : null);

    /// <inheritdoc />
    public Task SaveRoundResultAsync(string runId, int round, string key, KeptResult result, CancellationToken ct)
    {
        // Encoded (which copies the tensors): the caller may reuse or return the result's buffers.
        _results[(runId, round, key)] = KeptResultCodec.Encode(result);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<(IReadOnlyList<KeptResult> Results, IReadOnlyList<string> Problems)> LoadRoundResultsAsync(string runId, int round, CancellationToken ct)
    {
        IReadOnlyList<KeptResult> results = _results.Where(kv => kv.Key.Run == runId && kv.Key.Round == round)
            .OrderBy(kv => kv.Key.Key, StringComparer.Ordinal).Select(kv => KeptResultCodec.Decode(kv.Value.Clone())).ToArray();
        return Task.FromResult((results, (IReadOnlyList<string>)[]));
    }

    /// <inheritdoc />
    public Task DiscardRoundResultsAsync(string runId, int keepRound, CancellationToken ct)
    {
        foreach (var key in _results.Keys)
        {
            if (key.Run == runId && key.Round != keepRound) _results.TryRemove(key, out _);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task CloseRunAsync(string runId) => Task.CompletedTask;

    /// <inheritdoc />
    public Task FlushAsync(string runId) => Task.CompletedTask;

    /// <inheritdoc />
    public int LatestRound(string runId)
    {
        int best = -1;
        foreach (var key in _models.Keys)
        {
            if (key.Run == runId) best = Math.Max(best, key.Round);
        }
        return best;
    }
}
