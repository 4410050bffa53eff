using Cohort.Apps;
using Cohort.Engine.Models;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Simulation.Partitioners;
using Cohort.Strategies;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cohort.Simulation;

/// <summary>
/// Runs a plan as a simulation: loads the app's data once, partitions it, and drives the very
/// <see cref="RunExecutor"/> a server uses over a <see cref="VirtualNodePool"/>, writing the same
/// state database and model store a deployed run writes.
/// </summary>
public static class SimulationRunner
{
    /// <summary>The prepared parts of a simulation, before any round runs.</summary>
    /// <param name="Factory">The app's factory.</param>
    /// <param name="Dataset">The shared data set.</param>
    /// <param name="Partitions">Every client's index set.</param>
    /// <param name="Names">Client names.</param>
    internal sealed record Setup(ISimulationAppFactory Factory, ISimulationDataset Dataset, PartitionSet Partitions, IReadOnlyList<string> Names);

    /// <summary>Loads the data and partitions it as the plan's <c>simulation</c> section says; errors name the plan key and position.</summary>
    internal static Setup Prepare(Plan plan, SimulationOptions options) => Prepare(plan, options, reshape: null);

    /// <summary>As <see cref="Prepare(Plan, SimulationOptions)"/>, with <paramref name="reshape"/> applied to the loaded data before it is partitioned (a benchmark's validation split).</summary>
    internal static Setup Prepare(Plan plan, SimulationOptions options, Func<ISimulationDataset, ISimulationDataset>? reshape)
    {
        var spec = plan.Simulation ?? throw new PlanException(options.PlanSource, 0, 0,
            "the plan has no simulation section (add e.g. simulation: {clients: 100, partitioner: iid, data: data.csv})");
        var found = options.Apps.FirstOrDefault(f => string.Equals(f.Name, plan.App.Name, StringComparison.OrdinalIgnoreCase));
        if (found is not ISimulationAppFactory factory)
        {
            var able = options.Apps.OfType<ISimulationAppFactory>().Select(f => f.Name);
            throw new PlanException(options.PlanSource, 0, 0, found is null
                ? $"app.name: unknown app '{plan.App.Name}' (apps that can be simulated: {string.Join(", ", able)}){Records.NearestName.Hint(plan.App.Name, able)}; an app of your own comes from its plugin: --plugin PATH.dll"
                : $"app.name: app '{plan.App.Name}' cannot run as virtual clients (apps that can: {string.Join(", ", able)})");
        }

        // The clients are known: a selection they can never meet fails now, not after wait_for_nodes.
        if (SimulationSelectionLimits.Problems(plan, options.PlanSource) is { Count: > 0 } unmet) throw PlanException.Of(unmet);

        // The same check a server asks its nodes for at submit: every settings and data problem at once, before any loading.
        if (SimulationPreflight.Check(factory, plan, options.BaseDirectory) is { Count: > 0 } problems)
            throw new PlanException(options.PlanSource, 0, 0, $"preflight failed: {string.Join("; ", problems)}");

        ISimulationDataset dataset;
        try
        {
            dataset = factory.LoadDataset(new SimulationDataContext(plan.App.Settings, spec.Data, options.BaseDirectory, plan.Seed));
        }
        catch (Exception e) when (e is not OperationCanceledException and not PlanException)
        {
            throw Positioned(options, spec, "data", e.Message);
        }
        if (reshape is not null) dataset = reshape(dataset);

        IPartitioner partitioner;
        PartitionSet partitions;
        try
        {
            partitioner = options.Partitioners.Create(spec.Partitioner.Name, spec.Partitioner.Parameters);
            partitions = partitioner.Split(dataset, spec.Clients, new Random(unchecked((int)(plan.Seed ^ 0x5EED))));
        }
        catch (PartitionerException e)
        {
            string key = e.Key is null ? "partitioner.name" : $"partitioner.params.{e.Key}";
            if (!spec.Positions.ContainsKey(key)) key = e.Key is null ? "partitioner.name" : (spec.Positions.Keys.FirstOrDefault(k => k.StartsWith($"partitioner.params.{e.Key}.", StringComparison.Ordinal)) ?? "partitioner.name");
            throw Positioned(options, spec, key, e.Message);
        }
        catch (SiteDataException e)
        {
            // The data is read as it is partitioned (files put together, columns typed across them): its problems are the data's.
            throw Positioned(options, spec, "data", e.Message);
        }

        IReadOnlyList<string> names = partitions.Names ?? new NumberedClientNames(partitions.Clients);
        return new Setup(factory, dataset, partitions, names);
    }

    /// <summary>Runs all rounds; a run that fails (too few results, …) is returned with status failed and its error.</summary>
    public static async Task<SimulationResult> RunAsync(Plan plan, SimulationOptions options, CancellationToken ct)
    {
        var setup = Prepare(plan, options);
        var spec = plan.Simulation!;
        if (options.Log is { } log)
        {
            log.WriteLine(PartitionReport.Summary(setup.Partitions, setup.Dataset));
            if (spec.Histogram) log.Write(PartitionReport.Histogram(setup.Partitions, setup.Dataset, setup.Names));
        }
        return await RunAsync(plan, options, setup, ct);
    }

    /// <summary>Runs all rounds over an already prepared setup.</summary>
    internal static async Task<SimulationResult> RunAsync(Plan plan, SimulationOptions options, Setup setup, CancellationToken ct)
    {
        var spec = plan.Simulation!;
        string dataDir = Path.GetFullPath(options.DataDir);
        Directory.CreateDirectory(dataDir);
        var sqlite = new SqliteStateStore(Path.Combine(dataDir, "cohort.db"), syncRounds: false);
        await sqlite.InitializeAsync(ct);
        var store = new BufferedResultStore(sqlite) { RoundSaved = options.OnRound };
        var models = new ModelStore(Path.Combine(dataDir, "models"), flushToDisk: false, keepRoundResults: false);

        var now = DateTimeOffset.UtcNow;
        string id = $"{Slug(plan.Name)}-sim-{now:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..4]}";
        var run = new RunRecord(id, plan.Name, plan.Experiment ?? plan.Name, plan.App.Name, plan.Strategy.Name, RunStatus.Running,
            plan.Rounds, 0, plan.SourceText, now, now, null, null);
        await store.SaveRunAsync(run, ct);
        await store.AddEventAsync(id, "run.started",
            $"simulation of '{plan.Name}': {setup.Partitions.Clients} virtual clients, partitioner {spec.Partitioner.Name}, {spec.Workers} workers, data {setup.Dataset.Description}", ct);

        var services = new StrategyServices(AggregationBufferBytes: StrategyServices.DefaultAggregationBufferBytes, CentralEvaluator: (round, global, token) => setup.Dataset.EvaluateCentralAsync(global, plan.EvaluateConfig(round), token))
        {
            // The statistics step and a plan's central_evaluation file, as a server runs them (relative files from the plan's folder).
            ServerApps = Apps.BuiltInApps.SimulationServerApps(options.BaseDirectory, setup.Dataset),
        };
        var pool = new VirtualNodePool(setup.Factory, setup.Dataset, setup.Partitions, spec.Workers) { AppFault = options.OnAppFault };
        var executor = new RunExecutor(pool, store, models, options.Strategies, services, NullLogger<RunExecutor>.Instance);
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
        catch (OperationCanceledException)
        {
            status = RunStatus.Stopped;
            error = "stopped";
        }
        catch (Exception e) when (e is PlanException or KeyNotFoundException or InvalidDataException or AggregationException or InvalidOperationException or ArgumentException)
        {
            // As RunManager does for a deployed run: the run is recorded as failed with the reason.
            status = RunStatus.Failed;
            error = e.Message;
        }
        finally
        {
            await pool.DisposeAsync();
        }

        await store.FlushAsync(CancellationToken.None);
        var final = (await store.GetRunAsync(id, CancellationToken.None))! with { Status = status, Error = error, FinishedAt = DateTimeOffset.UtcNow };
        await store.SaveRunAsync(final, CancellationToken.None);
        await store.AddEventAsync(id, $"run.{status.ToText()}", error is null ? $"run {status.ToText()}" : $"run {status.ToText()}: {error}", CancellationToken.None);
        var rounds = await store.ListRoundsAsync(id, CancellationToken.None);
        int last = models.LatestRound(id);
        var model = last >= 0 ? await models.LoadAsync(id, last, CancellationToken.None) : null;
        if (status == RunStatus.Stopped) ct.ThrowIfCancellationRequested();
        return new SimulationResult(final, rounds, model, last >= 0 ? models.PathOf(id, last) : null, setup.Partitions.Clients, pool.PeakRunning, setup.Partitions.ByteCount);
    }

    private static PlanException Positioned(SimulationOptions options, SimulationSpec spec, string key, string problem)
    {
        var at = spec.Positions.TryGetValue(key, out var p) ? p
            : spec.Positions.FirstOrDefault(kv => kv.Key.StartsWith(key + ".", StringComparison.Ordinal)).Value;
        // App messages often name the key already ("simulation.data 'x' …"); do not say it twice.
        return new PlanException(options.PlanSource, at.Line, at.Column, problem.StartsWith("simulation.", StringComparison.Ordinal) ? problem : $"simulation.{key}: {problem}");
    }

    private static string Slug(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        var slug = new string(chars).Trim('-');
        return slug.Length == 0 ? "run" : slug.Length > 40 ? slug[..40] : slug;
    }
}
