using System.Collections.Concurrent;
using System.Threading.Channels;
using Cohort.Clients;
using Cohort.Engine.Nodes;

namespace Cohort.Server.Fleet;

/// <summary>
/// Tasks waiting for their nodes and tasks in flight. Nodes take their own tasks by long polling; a
/// result, a timeout, the node going offline or the run stopping completes each task exactly once.
/// </summary>
public sealed class TaskBoard
{
    /// <summary>Checks every result pushed for these tasks and remembers each node's example counts per run.</summary>
    public Apps.ResultValidator Validator { get; } = new();

    private readonly ConcurrentDictionary<string, Channel<PendingTask>> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PendingTask> _open = new(StringComparer.Ordinal);

    /// <summary>Queues a task for its node; the returned task completes with its outcome.</summary>
    public Task<TaskOutcome> Submit(PendingTask task)
    {
        _open[task.Id] = task;
        Queue(task.Node).Writer.TryWrite(task);
        return task.Completion.Task;
    }

    /// <summary>Waits up to <paramref name="wait"/> for the next open task of <paramref name="node"/>.</summary>
    public async Task<PendingTask?> TakeAsync(string node, TimeSpan wait, CancellationToken ct)
    {
        var reader = Queue(node).Reader;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(wait);
        try
        {
            while (true)
            {
                while (reader.TryRead(out var task))
                {
                    if (task.Completion.Task.IsCompleted) continue;
                    task.DeliveredAt = DateTimeOffset.UtcNow;
                    return task;
                }
                if (!await reader.WaitToReadAsync(timeout.Token)) return null;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>An open task by id, or null when unknown or already completed.</summary>
    public PendingTask? Find(string id) => _open.TryGetValue(id, out var t) && !t.Completion.Task.IsCompleted ? t : null;

    /// <summary>Completes a task; false when it had already completed.</summary>
    public bool Complete(PendingTask task, TaskOutcome outcome)
    {
        _open.TryRemove(task.Id, out _);
        return task.Completion.TrySetResult(outcome);
    }

    /// <summary>Fails every open task of a node (it went offline or restarted).</summary>
    public void FailNode(string node, FailureKind kind, string reason, bool deliveredOnly = false)
    {
        foreach (var t in _open.Values)
        {
            if (t.Node == node && (!deliveredOnly || t.DeliveredAt is not null)) Complete(t, TaskOutcome.Failed(kind, reason));
        }
    }

    /// <summary>Ids of the open tasks of a run (for cancellation notices).</summary>
    public IReadOnlyList<PendingTask> OpenTasksOf(string runId) => _open.Values.Where(t => t.RunId == runId).ToArray();

    private Channel<PendingTask> Queue(string node) =>
        _queues.GetOrAdd(node, _ => Channel.CreateUnbounded<PendingTask>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false }));
}
