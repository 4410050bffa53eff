using System.Collections.Concurrent;
using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Server.Fleet;
using Cohort.Server.Hosting;
using Cohort.Strategies;

namespace Cohort.Server.Dashboard;

/// <summary>Reads what the pages show from the state store, the live node registry, run progress and the model store.</summary>
internal sealed class DashboardData(
    IStateStore store, NodeRegistry registry, RunExecutor executor, ModelStore models, StrategyRegistry strategies, ServerOptions options)
{
    // Plans never change after submission, so a parsed plan is cached by run id.
    private readonly ConcurrentDictionary<string, (Plan? Plan, string? Error)> _plans = new(StringComparer.Ordinal);

    /// <summary>The state store.</summary>
    public IStateStore Store => store;

    /// <summary>The live node registry.</summary>
    public NodeRegistry Registry => registry;

    /// <summary>Server options.</summary>
    public ServerOptions Options => options;

    /// <summary>Progress of running runs.</summary>
    public RoundProgress? ProgressOf(string runId) => executor.Progress.Of(runId);

    /// <summary>The parsed plan of a run (null with the reason when it no longer parses, e.g. a strategy was removed).</summary>
    public (Plan? Plan, string? Error) PlanOf(RunRecord run) => _plans.GetOrAdd(run.Id, _ =>
    {
        try
        {
            return (PlanParser.Parse(run.PlanYaml, run.Name, strategies), null);
        }
        catch (PlanException e)
        {
            return (null, e.Message);
        }
    });

    /// <summary>Validates a plan the way a submission would.</summary>
    public Plan ParsePlan(string yaml, string source) => PlanParser.Parse(yaml, source, strategies);

    /// <summary>One run with its rounds, results, events and models, or null when unknown.</summary>
    public async Task<RunView?> LoadRunAsync(string id, CancellationToken ct)
    {
        var run = await store.GetRunAsync(id, ct);
        if (run is null) return null;
        var (plan, error) = PlanOf(run);
        return new RunView(run, await store.ListRoundsAsync(id, ct), await store.ListNodeResultsAsync(id, ct),
            await store.ListEventsAsync(id, ct), plan, error, ProgressOf(id), ModelsOf(id));
    }

    /// <summary>Saved global models of a run: (round, bytes), round 0 being the initial model.</summary>
    public IReadOnlyList<(int Round, long Bytes)> ModelsOf(string runId)
    {
        var list = new List<(int, long)>();
        int latest = models.LatestRound(runId);
        for (int r = 0; r <= latest; r++)
        {
            var f = new FileInfo(models.PathOf(runId, r));
            if (f.Exists) list.Add((r, f.Length));
        }
        return list;
    }

    /// <summary>Path of a round's model file, or null when the run or file does not exist.</summary>
    public async Task<string?> ModelFileAsync(string runId, int round, CancellationToken ct)
    {
        // The id is looked up first, so a crafted id can never name a path outside the model store.
        if (round < 0 || await store.GetRunAsync(runId, ct) is null) return null;
        string path = models.PathOf(runId, round);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Known nodes joined with their live state: (name, status, last seen, address, app, version).</summary>
    public async Task<IReadOnlyList<NodeRow>> NodesAsync(CancellationToken ct)
    {
        var live = registry.All.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var rows = new List<NodeRow>();
        var stored = await store.ListNodesAsync(ct);
        foreach (var n in stored)
        {
            live.TryGetValue(n.Name, out var l);
            rows.Add(new NodeRow(n.Name, StatusText.Current(l?.Status, n.Status),
                l?.LastSeen ?? n.LastSeen, l?.Address ?? n.Address, l?.App ?? n.App, l?.Version ?? n.Version, l?.BusyTask)
            { Datasets = l?.Datasets ?? [] });
        }
        foreach (var l in live.Values.Where(l => stored.All(s => s.Name != l.Name)))
            rows.Add(new NodeRow(l.Name, l.Status, l.LastSeen, l.Address, l.App, l.Version, l.BusyTask) { Datasets = l.Datasets });
        return rows.OrderBy(r => r.Name, StringComparer.Ordinal).ToArray();
    }
}

/// <summary>A node as the dashboard lists it.</summary>
internal sealed record NodeRow(string Name, NodeStatus Status, DateTimeOffset? LastSeen, string? Address, string? App, string? Version, string? BusyTask)
{
    /// <summary>The data sets the node declared when it last registered since the server started.</summary>
    public IReadOnlyList<Fleet.DeclaredDataset> Datasets { get; init; } = [];
}
