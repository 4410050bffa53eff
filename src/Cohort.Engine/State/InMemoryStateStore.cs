using Cohort.Records;

namespace Cohort.Engine.State;

/// <summary>
/// State kept in memory for the life of the process: engine tests and runs that need no database.
/// Ordering matches the durable stores (runs newest first, rounds by number, results by round, phase, node, arrival).
/// </summary>
internal sealed class InMemoryStateStore : IStateStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _tokenCreated = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeRecord> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RunRecord> _runs = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Run, int Round), RoundRecord> _rounds = new();
    private readonly List<(long Id, NodeResultRecord Result)> _results = [];
    private readonly List<EventRecord> _events = [];
    private long _nextId;

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken ct) => Task.CompletedTask;

    /// <inheritdoc />
    public Task SetNodeTokenAsync(string node, string tokenHash, CancellationToken ct)
    {
        lock (_gate)
        {
            _tokens[node] = tokenHash;
            _tokenCreated[node] = DateTimeOffset.UtcNow;
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<NodeTokenRecord>> ListNodeTokensAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<NodeTokenRecord>>(_tokens.Keys.Order(StringComparer.Ordinal)
                .Select(n => new NodeTokenRecord(n, _tokenCreated.TryGetValue(n, out var at) ? at : null, _nodes.TryGetValue(n, out var r) ? r.LastSeen : null)).ToArray());
        }
    }

    /// <inheritdoc />
    public Task<bool> RevokeNodeTokenAsync(string node, CancellationToken ct)
    {
        lock (_gate)
        {
            _tokenCreated.Remove(node);
            return Task.FromResult(_tokens.Remove(node));
        }
    }

    /// <inheritdoc />
    public Task<bool> RemoveNodeAsync(string node, CancellationToken ct)
    {
        lock (_gate)
        {
            _tokenCreated.Remove(node);
            bool had = _tokens.Remove(node);
            return Task.FromResult(_nodes.Remove(node) | had);
        }
    }

    /// <inheritdoc />
    public Task<string?> FindNodeByTokenHashAsync(string tokenHash, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult<string?>(_tokens.FirstOrDefault(kv => kv.Value == tokenHash).Key);
    }

    /// <inheritdoc />
    public Task UpdateNodeAsync(NodeRecord node, CancellationToken ct)
    {
        lock (_gate)
        {
            // As the durable stores: what a node does not say now (address, app, version) keeps its last value.
            _nodes[node.Name] = _nodes.TryGetValue(node.Name, out var old)
                ? node with { Address = node.Address ?? old.Address, App = node.App ?? old.App, Version = node.Version ?? old.Version }
                : node;
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            var names = _nodes.Keys.Union(_tokens.Keys).Order(StringComparer.Ordinal);
            return Task.FromResult<IReadOnlyList<NodeRecord>>(names.Select(n => _nodes.TryGetValue(n, out var r) ? r : new NodeRecord(n, NodeStatus.Unknown, null, null, null, null)).ToArray());
        }
    }

    /// <inheritdoc />
    public Task SaveRunAsync(RunRecord run, CancellationToken ct)
    {
        lock (_gate) _runs[run.Id] = run;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<RunRecord?> GetRunAsync(string id, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_runs.GetValueOrDefault(id));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunStatus? status, CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<RunRecord>>(_runs.Values.Where(r => status is null || r.Status == status)
                .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id, StringComparer.Ordinal).ToArray());
        }
    }

    /// <inheritdoc />
    public Task SaveRoundAsync(RoundRecord round, CancellationToken ct)
    {
        lock (_gate) _rounds[(round.RunId, round.Round)] = round;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string runId, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult<IReadOnlyList<RoundRecord>>(_rounds.Values.Where(r => r.RunId == runId).OrderBy(r => r.Round).ToArray());
    }

    /// <inheritdoc />
    public Task DeleteRoundsAfterAsync(string runId, int round, CancellationToken ct)
    {
        lock (_gate)
        {
            foreach (var key in _rounds.Keys.Where(k => k.Run == runId && k.Round > round).ToArray()) _rounds.Remove(key);
            _results.RemoveAll(r => r.Result.RunId == runId && r.Result.Round > round);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task AddNodeResultAsync(NodeResultRecord result, CancellationToken ct)
    {
        lock (_gate) _results.Add((++_nextId, result));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<NodeResultRecord>> ListNodeResultsAsync(string runId, CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<NodeResultRecord>>(_results.Where(r => r.Result.RunId == runId)
                .OrderBy(r => r.Result.Round).ThenBy(r => r.Result.Phase, StringComparer.Ordinal).ThenBy(r => r.Result.Node, StringComparer.Ordinal).ThenBy(r => r.Id)
                .Select(r => r.Result).ToArray());
        }
    }

    /// <inheritdoc />
    public Task AddEventAsync(string? runId, string kind, string message, CancellationToken ct)
    {
        lock (_gate) _events.Add(new EventRecord(++_nextId, DateTimeOffset.UtcNow, runId, kind, message));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<EventRecord>> ListEventsAsync(string? runId, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult<IReadOnlyList<EventRecord>>(_events.Where(e => runId is null || e.RunId == runId).ToArray());
    }
}
