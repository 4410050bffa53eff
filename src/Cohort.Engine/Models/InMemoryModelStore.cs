using System.Collections.Concurrent;
using Cohort.Parameters;

namespace Cohort.Engine.Models;

/// <summary>Models kept in memory (engine tests, throw-away runs); a saved model is copied so that later changes to it do not leak in.</summary>
public sealed class InMemoryModelStore : IModelStore
{
    private readonly ConcurrentDictionary<(string Run, int Round), ParameterSet> _models = new();

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
