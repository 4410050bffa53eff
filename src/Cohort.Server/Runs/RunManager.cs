using System.Collections.Concurrent;
using System.Threading.Channels;
using Cohort.Engine;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Strategies;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Runs;

/// <summary>
/// Accepts submitted runs and executes each as soon as it is queued, side by side with the others (a run
/// waiting for nodes holds none, and runs sharing nodes take turns on them at the task board); stops
/// them on request, and after a server restart resumes every run that was in progress from its last saved round.
/// </summary>
internal sealed class RunManager(
    IStateStore store, RunExecutor executor, StrategyRegistry strategies, ILogger<RunManager> log, RunPreflight preflight) : BackgroundService
{
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>();
    private readonly ConcurrentDictionary<string, Execution> _running = new();
    private readonly ConcurrentDictionary<string, Task> _executing = new(StringComparer.Ordinal);
    // An error no run could record (the state store failing, say) stops the manager, and with it the server.
    private readonly CancellationTokenSource _faulted = new();
    private Exception? _fault;

    /// <summary>Why a running run is waiting for nodes, with the counts; null when it is not waiting (or not running).</summary>
    public string? WaitingReason(string runId) => executor.Progress.Of(runId)?.WaitingReason;

    /// <summary>
    /// Validates the plan, asks the nodes that would run it to check its app settings against their data
    /// (unless <paramref name="skipPreflight"/>), and queues a run; throws <see cref="PlanException"/> for a
    /// bad plan and <see cref="PreflightException"/> listing every problem the nodes found.
    /// <paramref name="submitter"/> names who submits it; nodes see it, and a site's policy may serve only some submitters.
    /// </summary>
    public async Task<RunRecord> SubmitAsync(string planYaml, string source, CancellationToken ct, bool skipPreflight = false, string? submitter = null) =>
        (await SubmitCheckedAsync(planYaml, source, skipPreflight, submitter, ct)).Run;

    /// <summary>Like <see cref="SubmitAsync"/>, also returning what the preflight could not check (nodes that did not answer in time).</summary>
    public async Task<(RunRecord Run, IReadOnlyList<string> PreflightNotes)> SubmitCheckedAsync(string planYaml, string source, bool skipPreflight, string? submitter, CancellationToken ct)
    {
        string name = string.IsNullOrEmpty(source) ? "plan" : source;
        Security.PlanLimits.CheckText(planYaml, name);
        var plan = PlanParser.Parse(planYaml, name, strategies);
        Security.PlanLimits.CheckParsed(plan, name);
        IReadOnlyList<string> notes = skipPreflight ? [] : await preflight.CheckAsync(plan, submitter, ct, PlanSettingPlaces.Of(planYaml, name));
        var now = DateTimeOffset.UtcNow;
        string id = $"{Slug(plan.Name)}-{now:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..4]}";
        var run = new RunRecord(id, plan.Name, plan.Experiment ?? plan.Name, plan.App.Name, plan.Strategy.Name, RunStatus.Queued,
            plan.Rounds, 0, planYaml, now, null, null, null)
        {
            Submitter = submitter,
        };
        await store.SaveRunAsync(run, ct);
        await store.AddEventAsync(id, "run.submitted", $"run '{plan.Name}' submitted: strategy {plan.Strategy.Name}, {plan.Rounds} rounds, app {plan.App.Name}{(plan.Dataset is null ? "" : $", dataset {plan.Dataset}")}", ct);
        foreach (var note in notes) await store.AddEventAsync(id, "run.preflight", note, ct);
        await _queue.Writer.WriteAsync(id, ct);
        return (run, notes);
    }

    /// <summary>Stops a queued or running run; returns the run, or null when unknown.</summary>
    public async Task<RunRecord?> StopAsync(string id, CancellationToken ct)
    {
        var run = await store.GetRunAsync(id, ct);
        if (run is null || run.Status.IsFinal()) return run;
        if (_running.TryGetValue(id, out var execution))
        {
            try
            {
                await execution.Stop.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
                // It ended meanwhile.
            }
            // The executor records the final state; wait (at most a few seconds) for it, so the caller sees it.
            try
            {
                await execution.Ended.Task.WaitAsync(StopWait, ct);
            }
            catch (TimeoutException)
            {
                // Still winding down: the caller sees the status as it is now.
            }
        }
        else
        {
            await FinishAsync(run, RunStatus.Stopped, "stopped by operator before it started", ct);
        }
        return await store.GetRunAsync(id, ct);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var run in (await store.ListRunsAsync(null, stoppingToken)).Reverse())
        {
            if (run.Status is RunStatus.Running or RunStatus.Queued) await _queue.Writer.WriteAsync(run.Id, stoppingToken);
        }
        using var loop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _faulted.Token);
        try
        {
            await foreach (var id in _queue.Reader.ReadAllAsync(loop.Token))
            {
                // Each run is executed by its own task: a run waiting for nodes, or a slow one, never holds up the next.
                var cts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                if (!_running.TryAdd(id, new Execution(cts)))
                {
                    cts.Dispose();
                    continue;
                }
                foreach (var (ended, task) in _executing)
                {
                    if (task.IsCompleted) _executing.TryRemove(ended, out _);
                }
                _executing[id] = Task.Run(() => ExecuteQueuedAsync(id, cts, stoppingToken), CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (_fault is not null)
        {
        }
        finally
        {
            // Shutting down: every run stops where it is (and stays "running", to resume at the next start).
            if (_fault is null) await Task.WhenAll(_executing.Values);
        }
        if (_fault is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_fault);
    }

    private async Task ExecuteQueuedAsync(string id, CancellationTokenSource cts, CancellationToken stoppingToken)
    {
        try
        {
            var run = await store.GetRunAsync(id, stoppingToken);
            if (run is not null && !run.Status.IsFinal()) await ExecuteRunAsync(run, cts, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            log.LogError(e, "Run {Run} could not be executed or its end recorded", id);
            Interlocked.CompareExchange(ref _fault, e, null);
            await _faulted.CancelAsync();
        }
        finally
        {
            // The executor has cleared the run's progress by now: a caller that sees the run gone from the running set sees no stale waiting reason either.
            if (_running.TryRemove(id, out var execution)) execution.Ended.TrySetResult();
            cts.Dispose();
        }
    }

    private async Task ExecuteRunAsync(RunRecord run, CancellationTokenSource cts, CancellationToken stoppingToken)
    {
        using var scope = log.BeginScope(LogScope.Run(run.Id));
        try
        {
            Plan plan;
            try
            {
                plan = PlanParser.Parse(run.PlanYaml, run.Name, strategies);
            }
            catch (PlanException e)
            {
                // Accepted at submit, unreadable now: this server lacks what the plan names (a plugin's strategy,
                // most likely). Failing the run would lose it for good; it waits as it is for a server that can.
                log.LogWarning("Run {Run} cannot resume on this server: {Reason}; it stays {Status}. Restart with what it needs (the --plugin that provides it) or stop it", run.Id, e.Message, run.Status.ToText());
                await store.AddEventAsync(run.Id, "run.cannot_resume",
                    $"this server cannot read the run's plan ({e.Message}); the run stays as it is: restart the server with what it needs (e.g. the --plugin that provides the strategy), or stop it with 'cohort run stop'", stoppingToken);
                return;
            }
            int start = run.RoundsDone + 1;
            run = run with { Status = RunStatus.Running, StartedAt = run.StartedAt ?? DateTimeOffset.UtcNow };
            await store.SaveRunAsync(run, stoppingToken);
            await store.AddEventAsync(run.Id, "run.started", start > 1 ? $"run resumed at round {start}" : "run started", stoppingToken);
            await executor.ExecuteAsync(run, plan, start, cts.Token);
            await FinishAsync(run, RunStatus.Finished, null, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Server shutting down: the run stays "running" and resumes at the next start.
            log.LogInformation("Run {Run} interrupted by shutdown; it resumes when the server starts again", run.Id);
        }
        catch (OperationCanceledException)
        {
            await FinishAsync(run, RunStatus.Stopped, "stopped by operator", stoppingToken);
        }
        catch (Exception e) when (e is RunFailedException or PlanException or KeyNotFoundException or InvalidDataException)
        {
            log.LogWarning("Run {Run} failed: {Reason}", run.Id, e.Message);
            await FinishAsync(run, RunStatus.Failed, e.Message, stoppingToken);
        }
        catch (Exception e)
        {
            log.LogError(e, "Run {Run} failed unexpectedly", run.Id);
            await FinishAsync(run, RunStatus.Failed, $"internal error: {e.Message}", stoppingToken);
        }
    }

    private async Task FinishAsync(RunRecord run, RunStatus status, string? error, CancellationToken ct)
    {
        var current = await store.GetRunAsync(run.Id, ct) ?? run;
        await store.SaveRunAsync(current with { Status = status, Error = error, FinishedAt = DateTimeOffset.UtcNow }, ct);
        string text = status.ToText();
        await store.AddEventAsync(run.Id, $"run.{text}", error is null ? $"run {text}" : $"run {text}: {error}", ct);
    }

    /// <summary>How long <see cref="StopAsync"/> waits for a stopped run to record its end.</summary>
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);

    /// <summary>A run being executed: how to stop it, and a signal when its end is recorded.</summary>
    private sealed record Execution(CancellationTokenSource Stop)
    {
        /// <summary>Completes once the run's execution has ended and it has left the running set.</summary>
        public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static string Slug(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        var slug = new string(chars).Trim('-');
        return slug.Length == 0 ? "run" : slug.Length > 40 ? slug[..40] : slug;
    }
}
