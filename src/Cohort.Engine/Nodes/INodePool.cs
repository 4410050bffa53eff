using Cohort.Clients;
namespace Cohort.Engine.Nodes;

/// <summary>
/// The nodes a run's rounds are executed on. The deployed server's pool is the connected nodes (tasks
/// travel over gRPC); a simulation's pool is virtual clients in the same process. The run executor
/// sees only this interface, so both run the same round logic, strategies and bookkeeping.
/// </summary>
internal interface INodePool
{
    /// <summary>Names of the nodes that can take tasks for <paramref name="app"/> now, sorted.</summary>
    IReadOnlyList<string> Available(string app);

    /// <summary>
    /// Names of the nodes that can take tasks for <paramref name="app"/> and hold the data set
    /// <paramref name="dataset"/> (any data when null), sorted. Pools whose clients get their data from
    /// the pool itself (virtual clients, in-process apps) have every data set.
    /// </summary>
    IReadOnlyList<string> Available(string app, string? dataset) => Available(app);

    /// <summary>
    /// Completes at the next change in which nodes are available (one connects, leaves, or changes what it runs or holds).
    /// Read it before <see cref="Available(string, string?)"/> so a change in between still wakes the waiter. Pools whose
    /// nodes never change (virtual clients, in-process apps) return a task that never completes.
    /// </summary>
    Task AvailabilityChanged => Unchanging;

    private static readonly Task Unchanging = new TaskCompletionSource().Task;

    /// <summary>
    /// Nodes running <paramref name="app"/> that were connected when the server last stopped (or crashed) and have not
    /// connected again since it started, sorted: a resumed run waits for them, so that its rounds draw their nodes from
    /// the ones the run had. Pools that do not outlive a process have none.
    /// </summary>
    IReadOnlyList<string> NotYetBack(string app) => [];

    /// <summary>Starts a task; the returned task completes with its outcome (never throws for node errors).</summary>
    Task<TaskOutcome> Submit(PendingTask task);

    /// <summary>Ends a task that has not completed (round timeout, run stopped) with a failure of <paramref name="kind"/>.</summary>
    void Fail(PendingTask task, FailureKind kind, string reason);

    /// <summary>
    /// Every node the pool knows, online or not, with what it is doing: used to explain why a run waits.
    /// Pools that know only who is available report those.
    /// </summary>
    IReadOnlyList<NodeState> Census(string app) => Available(app).Select(n => new NodeState(n, app, true, 1, [])).ToArray();
}
