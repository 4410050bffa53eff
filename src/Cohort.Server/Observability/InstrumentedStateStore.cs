using Cohort.Engine.State;

namespace Cohort.Server.Observability;

/// <summary>
/// Passes every call to the real store and counts, on the way, what the run executor records: task
/// outcomes, bytes received, failures and rounds. The executor needs no metrics code of its own.
/// </summary>
internal sealed class InstrumentedStateStore(IStateStore inner, ServerMetrics metrics, Hosting.MemoryHygiene? hygiene = null) : IStateStore
{
    /// <summary>The store underneath.</summary>
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
        await inner.SaveRoundAsync(round, ct);
        Recorded(round);
    }

    /// <inheritdoc />
    public async Task<RunRecord?> CompleteRoundAsync(RoundRecord round, IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
    {
        var run = await inner.CompleteRoundAsync(round, results, ct);
        foreach (var result in results) metrics.ObserveTask(result);
        Recorded(round);
        return run;
    }

    private void Recorded(RoundRecord round)
    {
        metrics.ObserveRound(round);
        // The round is recorded: a memory pass now (on its own task) is past the round, not inside it.
        hygiene?.RoundRecorded();
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string runId, CancellationToken ct) => inner.ListRoundsAsync(runId, ct);

    /// <inheritdoc />
    public async Task AddNodeResultAsync(NodeResultRecord result, CancellationToken ct)
    {
        await inner.AddNodeResultAsync(result, ct);
        metrics.ObserveTask(result);
    }

    /// <inheritdoc />
    public async Task AddNodeResultsAsync(IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
    {
        await inner.AddNodeResultsAsync(results, ct);
        foreach (var result in results) metrics.ObserveTask(result);
    }

    /// <inheritdoc />
    public Task DeleteRoundsAfterAsync(string runId, int round, CancellationToken ct) => inner.DeleteRoundsAfterAsync(runId, round, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<NodeResultRecord>> ListNodeResultsAsync(string runId, CancellationToken ct) => inner.ListNodeResultsAsync(runId, ct);

    /// <inheritdoc />
    public Task AddEventAsync(string? runId, string kind, string message, CancellationToken ct) => inner.AddEventAsync(runId, kind, message, ct);

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> ListRunsByNodeAsync(CancellationToken ct) => inner.ListRunsByNodeAsync(ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<EventRecord>> ListEventsAsync(string? runId, CancellationToken ct) => inner.ListEventsAsync(runId, ct);
}
