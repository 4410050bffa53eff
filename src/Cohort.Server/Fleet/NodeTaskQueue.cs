using Cohort.Engine.Nodes;

namespace Cohort.Server.Fleet;

/// <summary>
/// One node's tasks: those waiting to be taken, and those it holds (taken, not yet answered), never more
/// than its capacity. Waiting runs take turns: the run that has waited longest since it last got a task
/// from this node goes next (first come, first served over runs), and one run's tasks go oldest first.
/// So two runs sharing a node alternate on it, whatever the number of tasks either keeps queued.
/// </summary>
internal sealed class NodeTaskQueue
{
    private readonly Lock _gate = new();
    private readonly List<PendingTask> _waiting = [];
    private readonly HashSet<PendingTask> _held = [];
    private readonly Dictionary<PendingTask, long> _order = [];
    // The turn at which each waiting run got in line (its first waiting task, or its last task taken).
    private readonly Dictionary<string, long> _inLineSince = new(StringComparer.Ordinal);
    private long _submitted;
    private long _turn;
    private int _capacity = 1;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Tasks the node may hold at once (at least 1).</summary>
    public int Capacity
    {
        get
        {
            lock (_gate) return _capacity;
        }
        set
        {
            lock (_gate) _capacity = Math.Max(1, value);
            Signal();
        }
    }

    /// <summary>Queues a new task.</summary>
    public void Add(PendingTask task)
    {
        lock (_gate)
        {
            _order[task] = ++_submitted;
            Enqueue(task);
        }
        Signal();
    }

    /// <summary>A held task goes back in line (its node was lost): it is taken again before its run's later tasks.</summary>
    public void Requeue(PendingTask task)
    {
        lock (_gate)
        {
            if (!_held.Remove(task)) return;
            task.DeliveredAt = null;
            Enqueue(task);
        }
        Signal();
    }

    /// <summary>Forgets a completed task, freeing its place when the node held it.</summary>
    public void Finished(PendingTask task)
    {
        lock (_gate)
        {
            _held.Remove(task);
            _waiting.Remove(task);
            _order.Remove(task);
            Prune(task.RunId);
        }
        Signal();
    }

    /// <summary>
    /// The next task for the node, marked delivered, when it holds fewer than its capacity and one waits;
    /// otherwise null, with a task that completes at the next change (a task added or freed).
    /// </summary>
    public (PendingTask? Task, Task Changed) TryTake()
    {
        lock (_gate)
        {
            _held.RemoveWhere(t => t.Completion.Task.IsCompleted);
            if (_held.Count >= _capacity || _waiting.Count == 0) return (null, _changed.Task);
            PendingTask? next = null;
            (long, long) best = (long.MaxValue, long.MaxValue);
            // One run's tasks go oldest first (a requeued one keeps its place), runs in the order they got in line.
            foreach (var t in _waiting)
            {
                if (t.Completion.Task.IsCompleted) continue;
                var key = (_inLineSince.GetValueOrDefault(t.RunId, long.MaxValue), _order.GetValueOrDefault(t, long.MaxValue));
                if (next is null || key.CompareTo(best) < 0) (next, best) = (t, key);
            }
            if (next is null) return (null, _changed.Task);
            _waiting.Remove(next);
            _held.Add(next);
            next.DeliveredAt = DateTimeOffset.UtcNow;
            // Served: the run goes to the back of the line if it has more tasks waiting here.
            _inLineSince.Remove(next.RunId);
            if (_waiting.Any(t => t.RunId == next.RunId)) _inLineSince[next.RunId] = ++_turn;
            return (next, _changed.Task);
        }
    }

    /// <summary>The run of each task the node holds now.</summary>
    public IReadOnlyList<string> HeldRuns()
    {
        lock (_gate) return _held.Where(t => !t.Completion.Task.IsCompleted).Select(t => t.RunId).ToArray();
    }

    private void Enqueue(PendingTask task)
    {
        _waiting.Add(task);
        _inLineSince.TryAdd(task.RunId, ++_turn);
    }

    private void Prune(string runId)
    {
        if (!_waiting.Any(t => t.RunId == runId)) _inLineSince.Remove(runId);
    }

    private void Signal()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }
}
