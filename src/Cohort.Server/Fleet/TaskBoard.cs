using System.Collections.Concurrent;
using Cohort.Clients;
using Cohort.Engine.Nodes;

namespace Cohort.Server.Fleet;

/// <summary>
/// Tasks waiting for their nodes and tasks in flight. Nodes take their own tasks by long polling, never
/// more at once than their capacity, with the runs that share a node taking turns on it; a result, a
/// timeout, the node going offline or the run stopping completes each task exactly once.
/// </summary>
internal sealed class TaskBoard
{
    /// <summary>Checks every result pushed for these tasks and remembers each node's example counts per run.</summary>
    public Apps.ResultValidator Validator { get; } = new();

    private readonly ConcurrentDictionary<string, NodeTaskQueue> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PendingTask> _open = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _answered = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _answeredOrder = new();
    private const int AnsweredMemory = 10_000;

    /// <summary>Queues a task for its node; the returned task completes with its outcome.</summary>
    public Task<TaskOutcome> Submit(PendingTask task)
    {
        _open[task.Id] = task;
        Queue(task.Node).Add(task);
        // Completed before it was queued (a stop racing the submission): the queue must not keep it.
        if (task.Completion.Task.IsCompleted) Queue(task.Node).Finished(task);
        return task.Completion.Task;
    }

    /// <summary>Sets how many tasks <paramref name="node"/> may hold at once (it said so when it registered; at least 1).</summary>
    public void SetCapacity(string node, int capacity) => Queue(node).Capacity = capacity;

    /// <summary>How many tasks <paramref name="node"/> may hold at once.</summary>
    public int CapacityOf(string node) => Queue(node).Capacity;

    /// <summary>The run of each task <paramref name="node"/> holds now (taken, not yet answered).</summary>
    public IReadOnlyList<string> HeldBy(string node) => _queues.TryGetValue(node, out var q) ? q.HeldRuns() : [];

    /// <summary>
    /// Waits up to <paramref name="wait"/> for the next open task of <paramref name="node"/>; while the node
    /// already holds as many tasks as its capacity, it gets none until one of them completes.
    /// </summary>
    public async Task<PendingTask?> TakeAsync(string node, TimeSpan wait, CancellationToken ct)
    {
        var queue = Queue(node);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(wait);
        try
        {
            while (true)
            {
                var (task, changed) = queue.TryTake();
                if (task is not null) return task;
                await changed.WaitAsync(timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Puts a task taken but not sent back in line, first of its run's, for the node's next taker.</summary>
    public void Return(PendingTask task) => Queue(task.Node).Requeue(task);

    /// <summary>An open task by id, or null when unknown or already completed.</summary>
    public PendingTask? Find(string id) => _open.TryGetValue(id, out var t) && !t.Completion.Task.IsCompleted ? t : null;

    /// <summary>Completes a task; false when it had already completed.</summary>
    public bool Complete(PendingTask task, TaskOutcome outcome)
    {
        _open.TryRemove(task.Id, out _);
        if (!task.Completion.TrySetResult(outcome)) return false;
        task.ReleaseModels();
        if (_queues.TryGetValue(task.Node, out var queue)) queue.Finished(task);
        if (outcome.Ok) Remember(task.Id, task.Node);
        return true;
    }

    private void Remember(string id, string node)
    {
        _answered[id] = node;
        _answeredOrder.Enqueue(id);
        // Only recent answers matter for duplicates; keep the memory bounded.
        while (_answeredOrder.Count > AnsweredMemory && _answeredOrder.TryDequeue(out var old)) _answered.TryRemove(old, out _);
    }

    /// <summary>
    /// The node went offline or restarted: its tasks taken but not answered go back on its queue under
    /// the same id, to be delivered again when it returns. Tasks whose plan allows no offline grace fail
    /// at once with <paramref name="kind"/>; the others fail only when the grace or the round timeout passes.
    /// </summary>
    public void NodeLost(string node, FailureKind kind, string reason, bool offline)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var t in _open.Values)
        {
            if (t.Node != node) continue;
            if (!offline && t.DeliveredAt is null) continue;
            if (t.OfflineGrace == TimeSpan.Zero)
            {
                Complete(t, TaskOutcome.Failed(kind, reason));
                continue;
            }
            if (offline) t.LostAt ??= now;
            if (t.DeliveredAt is not null) Queue(node).Requeue(t);
        }
    }

    /// <summary>
    /// Fails every open task of <paramref name="node"/>, queued or in flight, with <paramref name="reason"/>, whatever the
    /// plan's offline grace: the node will not be back (its token was revoked). Returns how many failed.
    /// </summary>
    public int FailAll(string node, FailureKind kind, string reason)
    {
        int failed = 0;
        foreach (var t in _open.Values)
        {
            if (t.Node == node && Complete(t, TaskOutcome.Failed(kind, reason))) failed++;
        }
        return failed;
    }

    /// <summary>
    /// Clears the loss of tasks whose node is back and fails those whose node stayed offline past the
    /// plan's offline grace; returns the failed tasks.
    /// </summary>
    public IReadOnlyList<PendingTask> ExpireLost(Func<string, bool> isOnline)
    {
        var now = DateTimeOffset.UtcNow;
        var failed = new List<PendingTask>();
        foreach (var t in _open.Values)
        {
            if (t.LostAt is not { } lost) continue;
            if (isOnline(t.Node))
            {
                t.LostAt = null;
                continue;
            }
            if (t.OfflineGrace is { } grace && now - lost >= grace
                && Complete(t, TaskOutcome.Failed(FailureKind.Offline, $"node offline for longer than failure.offline_grace ({grace.TotalSeconds:0.#}s)")))
                failed.Add(t);
        }
        return failed;
    }

    /// <summary>
    /// True when <paramref name="node"/>'s task with this id was answered with a result recently (a late duplicate is then
    /// ignored); another node's task is as unknown to it as one that never was.
    /// </summary>
    public bool WasAnswered(string id, string node) => _answered.TryGetValue(id, out var by) && by == node;

    /// <summary>The open task <paramref name="id"/> when it was given to <paramref name="node"/>, else null (another node's task is none of its business).</summary>
    public PendingTask? FindOf(string id, string node) => Find(id) is { } t && t.Node == node ? t : null;

    /// <summary>Ids of the open tasks of a run (for cancellation notices).</summary>
    public IReadOnlyList<PendingTask> OpenTasksOf(string runId) => _open.Values.Where(t => t.RunId == runId).ToArray();

    private NodeTaskQueue Queue(string node) => _queues.GetOrAdd(node, _ => new NodeTaskQueue());
}
