using Cohort.Clients;
using Cohort.Engine.Nodes;

namespace Cohort.Server.Fleet;

/// <summary>The connected nodes of a deployed server: tasks queue on the <see cref="TaskBoard"/> until their node pulls them.</summary>
internal sealed class ConnectedNodePool(NodeRegistry registry, TaskBoard board) : INodePool
{
    /// <inheritdoc />
    public IReadOnlyList<string> Available(string app) => registry.Online(app);

    /// <inheritdoc />
    public IReadOnlyList<string> Available(string app, string? dataset) => registry.Online(app, dataset);

    /// <inheritdoc />
    public Task AvailabilityChanged => registry.Changed;

    /// <inheritdoc />
    public IReadOnlyList<string> NotYetBack(string app) => registry.NotYetBack(app);

    /// <inheritdoc />
    public Task<TaskOutcome> Submit(PendingTask task) => board.Submit(task);

    /// <inheritdoc />
    public IReadOnlyList<NodeState> Census(string app) =>
        registry.All.Select(n => new NodeState(n.Name, n.App, n.Online, board.CapacityOf(n.Name), board.HeldBy(n.Name))
        {
            Datasets = n.Datasets.Select(d => d.Name).ToArray(),
        }).ToArray();

    /// <inheritdoc />
    public void Fail(PendingTask task, FailureKind kind, string reason) => board.Complete(task, TaskOutcome.Failed(kind, reason));
}
