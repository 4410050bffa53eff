namespace Cohort.Engine.Nodes;

/// <summary>
/// Completes pending tasks in arrival or submission order. In submission order an outcome that is
/// known before an earlier task's is held back until every earlier task has completed; the first
/// outcome of a task wins either way.
/// </summary>
internal sealed class TaskDelivery(DeliveryOrder order)
{
    private readonly Lock _gate = new();
    private readonly Queue<PendingTask> _undelivered = new();
    private readonly HashSet<PendingTask> _queued = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<PendingTask, TaskOutcome> _held = new(ReferenceEqualityComparer.Instance);

    /// <summary>The order this delivery keeps.</summary>
    public DeliveryOrder Order => order;

    /// <summary>Notes a submitted task (its place in submission order).</summary>
    public void Submitted(PendingTask task)
    {
        if (order == DeliveryOrder.Arrival) return;
        lock (_gate)
        {
            _undelivered.Enqueue(task);
            _queued.Add(task);
        }
    }

    /// <summary>Records a task's outcome; false when it already had one.</summary>
    public bool Complete(PendingTask task, TaskOutcome outcome)
    {
        if (order == DeliveryOrder.Arrival) return task.Completion.TrySetResult(outcome);
        lock (_gate)
        {
            if (!_queued.Contains(task)) return task.Completion.TrySetResult(outcome);
            if (!_held.TryAdd(task, outcome)) return false;
            // Deliver under the lock, so completions happen one after another in submission order.
            while (_undelivered.TryPeek(out var head) && _held.Remove(head, out var known))
            {
                _undelivered.Dequeue();
                _queued.Remove(head);
                head.Completion.TrySetResult(known);
            }
            return true;
        }
    }

    /// <summary>Tasks submitted and not yet handed over.</summary>
    public IReadOnlyList<PendingTask> Undelivered()
    {
        lock (_gate) return [.. _undelivered];
    }
}
