namespace Cohort.Engine.Nodes;

/// <summary>A node as its pool sees it now, for explaining why a run waits for nodes.</summary>
/// <param name="Name">Node name.</param>
/// <param name="App">Client app it runs.</param>
/// <param name="Online">True while it is connected.</param>
/// <param name="Capacity">Tasks it runs at the same time.</param>
/// <param name="BusyRuns">Runs of the tasks it holds now (taken, not yet answered), one entry per task.</param>
internal sealed record NodeState(string Name, string App, bool Online, int Capacity, IReadOnlyList<string> BusyRuns)
{
    /// <summary>Names of the data sets it declared (empty when it declared none or its pool does not know).</summary>
    public IReadOnlyList<string> Datasets { get; init; } = [];
}
