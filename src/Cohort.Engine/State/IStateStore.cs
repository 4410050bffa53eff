namespace Cohort.Engine.State;

/// <summary>Durable server state: nodes and their token hashes, runs, rounds, per-node results, events.</summary>
internal interface IStateStore
{
    /// <summary>Creates tables when missing.</summary>
    Task InitializeAsync(CancellationToken ct);

    /// <summary>Stores (or replaces) the token hash of a node, and when it was issued (now).</summary>
    Task SetNodeTokenAsync(string node, string tokenHash, CancellationToken ct);

    /// <summary>The node a token hash belongs to, or null.</summary>
    Task<string?> FindNodeByTokenHashAsync(string tokenHash, CancellationToken ct);

    /// <summary>The nodes that hold a token now, by name, with when it was issued and when the node was last seen; never the hash.</summary>
    Task<IReadOnlyList<NodeTokenRecord>> ListNodeTokensAsync(CancellationToken ct);

    /// <summary>Deletes the token hash of <paramref name="node"/>, so the token authenticates nothing; false when the node holds none.</summary>
    Task<bool> RevokeNodeTokenAsync(string node, CancellationToken ct);

    /// <summary>Deletes the node's row (its status, address, token hash); its results in runs stay. False when there is no such node.</summary>
    Task<bool> RemoveNodeAsync(string node, CancellationToken ct);

    /// <summary>Records what a node said about itself and its status.</summary>
    Task UpdateNodeAsync(NodeRecord node, CancellationToken ct);

    /// <summary>All known nodes.</summary>
    Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken ct);

    /// <summary>Inserts or replaces a run.</summary>
    Task SaveRunAsync(RunRecord run, CancellationToken ct);

    /// <summary>A run by id, or null.</summary>
    Task<RunRecord?> GetRunAsync(string id, CancellationToken ct);

    /// <summary>
    /// Records that a run has finished <paramref name="roundsDone"/> rounds and returns the run as stored now,
    /// or null when there is no such run. This default reads and saves the whole run; a store overrides it
    /// with one update of the one column (it runs after every round).
    /// </summary>
    async Task<RunRecord?> SetRoundsDoneAsync(string runId, int roundsDone, CancellationToken ct)
    {
        if (await GetRunAsync(runId, ct) is not { } run) return null;
        run = run with { RoundsDone = roundsDone };
        await SaveRunAsync(run, ct);
        return run;
    }

    /// <summary>Runs, newest first, optionally of one status.</summary>
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunStatus? status, CancellationToken ct);

    /// <summary>Inserts or replaces a round.</summary>
    Task SaveRoundAsync(RoundRecord round, CancellationToken ct);

    /// <summary>
    /// Records a round done, after the node <paramref name="results"/> not yet written (in order, before the round), and
    /// its run's <c>rounds_done</c> as <paramref name="round"/>'s number; returns the run as stored now (null when there
    /// is no such run). This default makes the writes one after the other; a store overrides it with one transaction, so
    /// the results, the round and the count are committed together (one flush to disk).
    /// </summary>
    async Task<RunRecord?> CompleteRoundAsync(RoundRecord round, IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
    {
        if (results.Count > 0) await AddNodeResultsAsync(results, ct);
        await SaveRoundAsync(round, ct);
        return await SetRoundsDoneAsync(round.RunId, round.Round, ct);
    }

    /// <summary>A run's rounds in order.</summary>
    Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string runId, CancellationToken ct);

    /// <summary>Removes the rounds and node results of a run after <paramref name="round"/> (the unfinished part of an interrupted run).</summary>
    Task DeleteRoundsAfterAsync(string runId, int round, CancellationToken ct);

    /// <summary>Appends a node's result.</summary>
    Task AddNodeResultAsync(NodeResultRecord result, CancellationToken ct);

    /// <summary>Appends node results in order. This default writes them one by one; a store overrides it with one transaction.</summary>
    async Task AddNodeResultsAsync(IReadOnlyList<NodeResultRecord> results, CancellationToken ct)
    {
        foreach (var result in results) await AddNodeResultAsync(result, ct);
    }

    /// <summary>A run's node results in order.</summary>
    Task<IReadOnlyList<NodeResultRecord>> ListNodeResultsAsync(string runId, CancellationToken ct);

    /// <summary>Appends an event.</summary>
    Task AddEventAsync(string? runId, string kind, string message, CancellationToken ct);

    /// <summary>Events, oldest first, of one run or all.</summary>
    Task<IReadOnlyList<EventRecord>> ListEventsAsync(string? runId, CancellationToken ct);

    /// <summary>
    /// For each node, the ids of the runs it has results in, newest first. This default reads every run's
    /// results; a store overrides it with one query.
    /// </summary>
    async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> ListRunsByNodeAsync(CancellationToken ct)
    {
        var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var run in await ListRunsAsync(null, ct))
        {
            foreach (var node in (await ListNodeResultsAsync(run.Id, ct)).Select(r => r.Node).Distinct())
            {
                if (!map.TryGetValue(node, out var list)) map[node] = list = [];
                list.Add(run.Id);
            }
        }
        return map.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value, StringComparer.Ordinal);
    }
}
