using System.Diagnostics;
using Cohort.Apps;
using Cohort.Transport.V1;

namespace Cohort.Server.Fleet;

/// <summary>
/// Nodes that are client apps in this process (simulations, benchmarks, tests): a task runs on the
/// thread pool against the node's app, wrapped like a real node's (local tensors stay with the app),
/// optionally after a per-node delay that stands in for a slower site, and its result is checked
/// against the task's expected shapes as the Fleet API checks an upload.
/// </summary>
public sealed class InProcessNodePool : INodePool
{
    private readonly string _app;
    private readonly ResultValidator _validator = new();
    private readonly Dictionary<string, IClientApp> _nodes;
    private readonly IReadOnlyDictionary<string, TimeSpan> _fitDelays;

    /// <summary>Nodes named by the keys of <paramref name="apps"/>, serving app <paramref name="app"/>; <paramref name="fitDelays"/> adds time to each fit of a node.</summary>
    public InProcessNodePool(string app, IReadOnlyDictionary<string, IClientApp> apps, IReadOnlyDictionary<string, TimeSpan>? fitDelays = null)
    {
        _app = app;
        _nodes = apps.ToDictionary(kv => kv.Key, kv => (IClientApp)new Privacy.LocalDifferentialPrivacy(new PersonalizedClientApp(kv.Value)), StringComparer.Ordinal);
        _fitDelays = fitDelays ?? new Dictionary<string, TimeSpan>();
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Available(string app) =>
        string.Equals(app, _app, StringComparison.OrdinalIgnoreCase) ? _nodes.Keys.Order(StringComparer.Ordinal).ToArray() : [];

    /// <inheritdoc />
    public Task<TaskOutcome> Submit(PendingTask task)
    {
        _ = Task.Run(() => RunAsync(task));
        return task.Completion.Task;
    }

    /// <inheritdoc />
    public void Fail(PendingTask task, string reason) => task.Completion.TrySetResult(TaskOutcome.Failed(reason));

    private async Task RunAsync(PendingTask task)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            if (!_nodes.TryGetValue(task.Node, out var app))
            {
                Fail(task, $"no node named '{task.Node}'");
                return;
            }
            using var cancel = new CancellationTokenSource();
            // A task failed from outside (timeout, stop) cancels the app's work.
            _ = task.Completion.Task.ContinueWith(_ => cancel.Cancel(), TaskScheduler.Default);
            TaskOutcome outcome;
            switch (task.Kind)
            {
                case TaskKind.Fit:
                    {
                        var fit = await app.FitAsync(task.Parameters!, task.Config, cancel.Token);
                        if (_fitDelays.TryGetValue(task.Node, out var delay) && delay > TimeSpan.Zero) await Task.Delay(delay, cancel.Token);
                        string? mismatch = task.Expected?.FindMismatch(fit.Parameters) ?? fit.Parameters.FindNonFinite()
                            ?? _validator.Check(task.RunId, task.Node, task.Phase, fit.Examples, null, fit.Metrics, task.Limits);
                        outcome = mismatch is null
                            ? new TaskOutcome(true, null, fit.Examples, double.NaN, fit.Metrics, fit.Parameters, clock.Elapsed.TotalSeconds, fit.Parameters.ByteCount)
                            : TaskOutcome.Failed($"rejected result: {mismatch}", clock.Elapsed.TotalSeconds);
                        break;
                    }
                case TaskKind.Evaluate:
                    {
                        var e = await app.EvaluateAsync(task.Parameters!, task.Config, cancel.Token);
                        outcome = _validator.Check(task.RunId, task.Node, task.Phase, e.Examples, e.Loss, e.Metrics, task.Limits) is { } invalid
                            ? TaskOutcome.Failed($"rejected result: {invalid}", clock.Elapsed.TotalSeconds)
                            : new TaskOutcome(true, null, e.Examples, e.Loss, e.Metrics, null, clock.Elapsed.TotalSeconds, 0);
                        break;
                    }
                default:
                    {
                        var p = await app.GetParametersAsync(task.Config, cancel.Token);
                        outcome = new TaskOutcome(true, null, 0, double.NaN, Records.Metrics.Empty, p, clock.Elapsed.TotalSeconds, p.ByteCount);
                        break;
                    }
            }
            task.Completion.TrySetResult(outcome);
        }
        catch (OperationCanceledException)
        {
            // Already failed by whoever cancelled it.
        }
        catch (Exception e)
        {
            task.Completion.TrySetResult(TaskOutcome.Failed($"app error: {e.Message}", clock.Elapsed.TotalSeconds));
        }
    }
}
