using System.Diagnostics;
using Cohort.Apps;
using Cohort.Clients;

namespace Cohort.Engine.Nodes;

/// <summary>
/// Nodes that are client apps in this process (tests, benchmarks, strategy studies): a task runs on the
/// thread pool through the same <see cref="ClientTaskRunner"/> chain a node uses (plus the checks the
/// Fleet API makes on an upload), optionally after a per-node delay that stands in for a slower site.
/// Results come back in arrival or submission order (<see cref="InProcessPoolOptions.Delivery"/>).
/// </summary>
internal sealed class InProcessNodePool : INodePool
{
    private readonly string _app;
    private readonly IReadOnlyDictionary<string, IClientApp> _nodes;
    private readonly InProcessPoolOptions _options;
    private readonly ClientTaskRunner _runner;
    private readonly TaskDelivery _delivery;

    /// <summary>Nodes named by the keys of <paramref name="apps"/>, serving app <paramref name="app"/>; <paramref name="fitDelays"/> adds time to each fit of a node.</summary>
    public InProcessNodePool(string app, IReadOnlyDictionary<string, IClientApp> apps, IReadOnlyDictionary<string, TimeSpan>? fitDelays = null)
        : this(app, apps, new InProcessPoolOptions { FitDelays = fitDelays ?? InProcessPoolOptions.NoDelays })
    {
    }

    /// <summary>Nodes named by the keys of <paramref name="apps"/>, serving app <paramref name="app"/>, as <paramref name="options"/> say.</summary>
    public InProcessNodePool(string app, IReadOnlyDictionary<string, IClientApp> apps, InProcessPoolOptions options)
    {
        _app = app;
        _nodes = apps.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        _options = options;
        _runner = options.Runner ?? ClientTaskRunner.InProcess(options.SeededNoise);
        _delivery = new TaskDelivery(options.Delivery);
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Available(string app) =>
        string.Equals(app, _app, StringComparison.OrdinalIgnoreCase) ? _nodes.Keys.Order(StringComparer.Ordinal).ToArray() : [];

    /// <inheritdoc />
    public Task<TaskOutcome> Submit(PendingTask task)
    {
        _delivery.Submitted(task);
        _ = Task.Run(() => RunAsync(task));
        return task.Completion.Task;
    }

    /// <inheritdoc />
    public void Fail(PendingTask task, FailureKind kind, string reason) => _delivery.Complete(task, TaskOutcome.Failed(kind, reason));

    private async Task RunAsync(PendingTask task)
    {
        var clock = Stopwatch.StartNew();
        if (!_nodes.TryGetValue(task.Node, out var app))
        {
            Fail(task, FailureKind.Refused, $"no node named '{task.Node}'");
            return;
        }
        using var cancel = new CancellationTokenSource();
        // A task failed from outside (timeout, stop) cancels the app's work.
        _ = task.Completion.Task.ContinueWith(_ => cancel.Cancel(), TaskScheduler.Default);
        ClientReply reply;
        try
        {
            reply = await _runner.RunAsync(app, task.ToClientTask(), cancel.Token);
        }
        catch (Exception e)
        {
            // The runner turns the app's failures into replies: this is a defect in Cohort. Failing the task
            // (rather than leaving it open until the round times out) keeps the exception for the executor's log.
            reply = ClientReply.Broken(e);
        }
        if (reply.Ok && task.Kind == TaskKind.Fit && _options.FitDelays.TryGetValue(task.Node, out var delay) && delay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(delay, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                return; // already failed by whoever cancelled it
            }
        }
        _delivery.Complete(task, reply.ToOutcome(clock.Elapsed.TotalSeconds));
    }
}
