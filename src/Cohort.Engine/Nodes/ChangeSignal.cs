namespace Cohort.Engine.Nodes;

/// <summary>
/// Wakes whoever waits for the next change: <see cref="Next"/> completes at the next <see cref="Notify"/>. A waiter
/// takes <see cref="Next"/> before reading the state it waits on, so a change in between is never missed.
/// </summary>
internal sealed class ChangeSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next change after it was read.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    /// <summary>Wakes every waiter of the current <see cref="Next"/> and arms a fresh one.</summary>
    public void Notify() => Interlocked.Exchange(ref _next, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
