using System.Collections.Concurrent;
using Cohort.Apps;

namespace Cohort.Clients;

/// <summary>
/// Client side of personalisation: when a task's settings name local tensors, each node trains and
/// evaluates with its own copies of them, keeps the trained copies, and strips them from what it sends.
/// The copies are kept per run and node here, not in the app, so a virtual client created anew for
/// every task still finds its own.
/// </summary>
internal sealed class PersonalizationStep : IClientStep
{
    private readonly ConcurrentDictionary<(string Run, string Node), LocalTensors> _local = new();

    /// <inheritdoc />
    public async Task<ClientReply> InvokeAsync(ClientTask task, ClientTaskHandler next, CancellationToken ct)
    {
        if (LocalTensors.Patterns(task.Settings) is not { } patterns || task.Parameters is null || task.Kind == TaskKind.GetParameters)
            return await next(task, ct);
        var local = _local.GetOrAdd((task.RunId, task.Node), _ => new LocalTensors());
        var reply = await next(task with { Parameters = local.WithLocal(task.Parameters, patterns) }, ct);
        if (task.Kind != TaskKind.Fit || !reply.Ok || reply.Parameters is null) return reply;
        return reply with { Parameters = local.Keep(reply.Parameters, patterns) };
    }

    /// <summary>Forgets the local tensors of a run (its nodes' copies), when the run is over.</summary>
    public void Forget(string runId)
    {
        foreach (var key in _local.Keys)
        {
            if (key.Run == runId) _local.TryRemove(key, out _);
        }
    }
}
