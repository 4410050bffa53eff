using Cohort.Clients;

namespace Cohort.Engine.Nodes;

/// <summary>Between the engine's pending tasks and the client-task runner's view of them.</summary>
internal static class ClientTasks
{
    /// <summary>The task as the client side sees it.</summary>
    public static ClientTask ToClientTask(this PendingTask task) =>
        new(task.RunId, task.Node, task.Round, task.Kind, task.Config, task.Parameters, task.Expected, task.Limits) { Settings = task.Settings };

    /// <summary>The engine's outcome of a client reply that took <paramref name="seconds"/>.</summary>
    public static TaskOutcome ToOutcome(this ClientReply reply, double seconds) => reply.Ok
        ? new TaskOutcome(true, null, reply.Examples, reply.Loss, reply.Metrics, reply.Parameters, seconds, reply.Parameters?.ByteCount ?? 0)
        : TaskOutcome.Failed(reply.Failure ?? FailureKind.Other, reply.Error ?? "failed", seconds) with { Fault = reply.Fault };
}
