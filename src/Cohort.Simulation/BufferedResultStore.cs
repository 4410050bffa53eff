using Cohort.Engine.State;

namespace Cohort.Simulation;

/// <summary>
/// A state store decorator for simulations: per-client results are held back and written with their
/// round in one transaction (a round of 100 clients would otherwise cost 200 separate commits), and
/// every saved round is reported to <see cref="RoundSaved"/> so the caller can print it.
/// </summary>
internal sealed class BufferedResultStore(IStateStore inner) : IStateStore
{
    private readonly List<NodeResultRecord> _pending = [];
    private readonly SemaphoreSlim _flush = new(1, 1);

    /// <summary>Called after each round is saved, with the round's per-client results.</summary>
    public Func<RoundRecord, IReadOnlyList<NodeResultRecord>, Task>? RoundSaved { get; set; }

    /// <summary>The wrapped store.</summary>
    public IStateStore Inner => inner;

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken ct) => inner.InitializeAsync(ct);

    /// <inheritdoc />
    public Task SetNodeTokenAsync(string node, string tokenHash, CancellationToken ct) => inner.SetNodeTokenAsync(node, tokenHash, ct);

    /// <inheritdoc />
    public Task<string?> FindNodeByTokenHashAsync(string tokenHash, CancellationToken ct) => inner.FindNodeByTokenHashAsync(tokenHash, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<NodeTokenRecord>> ListNodeTokensAsync(CancellationToken ct) => inner.ListNodeTokensAsync(ct);

    /// <inheritdoc />
    public Task<bool> RevokeNodeTokenAsync(string node, CancellationToken ct) => inner.RevokeNodeTokenAsync(node, ct);

    /// <inheritdoc />
    public Task<bool> RemoveNodeAsync(string node, CancellationToken ct) => inner.RemoveNodeAsync(node, ct);

    /// <inheritdoc />
    public Task UpdateNodeAsync(NodeRecord node, CancellationToken ct) => inner.UpdateNodeAsync(node, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken ct) => inner.ListNodesAsync(ct);

    /// <inheritdoc />
    public Task SaveRunAsync(RunRecord run, CancellationToken ct) => inner.SaveRunAsync(run, ct);

    /// <inheritdoc />
    public Task<RunRecord?> GetRunAsync(string id, CancellationToken ct) => inner.GetRunAsync(id, ct);

    /// <inheritdoc />
    public Task<RunRecord?> SetRoundsDoneAsync(string runId, int roundsDone, CancellationToken ct) => inner.SetRoundsDoneAsync(runId, roundsDone, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunStatus? status, CancellationToken ct) => inner.ListRunsAsync(status, ct);

    /// <inheritdoc />
    public async Task SaveRoundAsync(RoundRecord round, CancellationToken ct)
    {
        var results = await FlushAsync(ct);
        await inner.SaveRoundAsync(round, ct);
        if (RoundSaved is { } callback) await callback(round, results.Where(r => r.Round == round.Round).ToArray());
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string runId, CancellationToken ct) => inner.ListRoundsAsync(runId, ct);

    /// <inheritdoc />
    public Task AddNodeResultAsync(NodeResultRecord result, CancellationToken ct)
    {
        lock (_pending) _pending.Add(result);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task DeleteRoundsAfterAsync(string runId, int round, CancellationToken ct)
    {
        await FlushAsync(ct);
        await inner.DeleteRoundsAfterAsync(runId, round, ct);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<NodeResultRecord>> ListNodeResultsAsync(string runId, CancellationToken ct)
    {
        await FlushAsync(ct);
        return await inner.ListNodeResultsAsync(runId, ct);
    }

    /// <inheritdoc />
    public Task AddEventAsync(string? runId, string kind, string message, CancellationToken ct) => inner.AddEventAsync(runId, kind, message, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<EventRecord>> ListEventsAsync(string? runId, CancellationToken ct) => inner.ListEventsAsync(runId, ct);

    /// <summary>Writes the held-back results; returns them.</summary>
    public async Task<IReadOnlyList<NodeResultRecord>> FlushAsync(CancellationToken ct)
    {
        await _flush.WaitAsync(ct);
        try
        {
            NodeResultRecord[] batch;
            lock (_pending)
            {
                batch = [.. _pending];
                _pending.Clear();
            }
            if (inner is SqliteStateStore sqlite) await sqlite.AddNodeResultsAsync(batch, ct);
            else foreach (var r in batch) await inner.AddNodeResultAsync(r, ct);
            return batch;
        }
        finally
        {
            _flush.Release();
        }
    }
}
