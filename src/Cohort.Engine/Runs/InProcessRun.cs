using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Strategies;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cohort.Engine.Runs;

/// <summary>
/// Executes one plan through the server's own run executor (synchronous rounds or FedBuff) against an
/// <see cref="INodePool"/> in this process, with its state in a SQLite file and folder or in memory:
/// the round logic, fault tolerance and bookkeeping of a deployed run, without transport.
/// </summary>
internal static class InProcessRun
{
    /// <summary>What the run left behind.</summary>
    /// <param name="Run">The run record (status, error).</param>
    /// <param name="Store">Its state, for reading rounds, node results and events.</param>
    /// <param name="Models">Its saved models.</param>
    public sealed record Outcome(RunRecord Run, IStateStore Store, IModelStore Models);

    /// <summary>Runs <paramref name="plan"/> to the end (or its failure, recorded in the run) with state under <paramref name="folder"/>.</summary>
    public static async Task<Outcome> RunAsync(Plan plan, INodePool pool, StrategyServices services, string folder, CancellationToken ct = default)
    {
        Directory.CreateDirectory(folder);
        var store = new SqliteStateStore(Path.Combine(folder, "state.db"));
        await store.InitializeAsync(ct);
        return await RunAsync(plan, pool, services, store, new ModelStore(Path.Combine(folder, "models")), ct);
    }

    /// <summary>Runs <paramref name="plan"/> to the end with its state and models in memory.</summary>
    public static Task<Outcome> RunAsync(Plan plan, INodePool pool, StrategyServices services, CancellationToken ct = default) =>
        RunAsync(plan, pool, services, new InMemoryStateStore(), new InMemoryModelStore(), ct);

    /// <summary>Runs <paramref name="plan"/> to the end against the given stores.</summary>
    public static async Task<Outcome> RunAsync(Plan plan, INodePool pool, StrategyServices services, IStateStore store, IModelStore models, CancellationToken ct = default)
    {
        var run = new RunRecord($"run-{Guid.NewGuid():N}"[..16], plan.Name, plan.Experiment ?? plan.Name, plan.App.Name, plan.Strategy.Name,
            RunStatus.Running, plan.Rounds, 0, plan.SourceText, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);
        await store.SaveRunAsync(run, ct);
        var executor = new RunExecutor(pool, store, models, StrategyRegistry.CreateDefault(), services, NullLogger<RunExecutor>.Instance);
        var status = RunStatus.Finished;
        string? error = null;
        try
        {
            await executor.ExecuteAsync(run, plan, 1, ct);
        }
        catch (RunFailedException e)
        {
            status = RunStatus.Failed;
            error = e.Message;
        }
        run = (await store.GetRunAsync(run.Id, ct))! with { Status = status, Error = error, FinishedAt = DateTimeOffset.UtcNow };
        await store.SaveRunAsync(run, ct);
        return new Outcome(run, store, models);
    }
}
