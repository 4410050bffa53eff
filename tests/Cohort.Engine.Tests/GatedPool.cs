using Cohort.Apps;
using Cohort.Clients;
using Cohort.Engine.Nodes;

namespace Cohort.Engine.Tests;

/// <summary>In-process nodes of which only those brought online are available, as connected nodes come and go on a server.</summary>
internal sealed class GatedPool(IReadOnlyDictionary<string, IClientApp> apps, params string[] online) : INodePool
{
    private readonly InProcessNodePool _inner = new("step", apps);
    private readonly ChangeSignal _changed = new();
    private readonly HashSet<string> _online = new(online, StringComparer.Ordinal);

    /// <summary>Makes <paramref name="node"/> available and signals the change.</summary>
    public void BringOnline(string node)
    {
        lock (_online) _online.Add(node);
        _changed.Notify();
    }

    public IReadOnlyList<string> Available(string app)
    {
        lock (_online) return _inner.Available(app).Where(_online.Contains).ToArray();
    }

    public Task AvailabilityChanged => _changed.Next;

    public Task<TaskOutcome> Submit(PendingTask task) => _inner.Submit(task);

    public void Fail(PendingTask task, FailureKind kind, string reason) => _inner.Fail(task, kind, reason);
}
