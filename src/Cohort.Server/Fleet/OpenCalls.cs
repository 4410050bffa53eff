using Grpc.Core;

namespace Cohort.Server.Fleet;

/// <summary>
/// Counts the calls each node (or other caller) holds open, by kind (result calls, task pulls, messages still arriving),
/// and refuses one past the kind's limit before it waits for anything: every open call holds server memory, however idle.
/// </summary>
/// <param name="hygiene">Told of each call refused here, for the memory pass that follows a burst of refusals; none in tests.</param>
internal sealed class OpenCalls(Hosting.MemoryHygiene? hygiene = null)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Kind, string Node), int> _open = [];

    /// <summary>Counts a <paramref name="kind"/> call <paramref name="node"/> opens until the returned handle is disposed; throws past <paramref name="limit"/>.</summary>
    public IDisposable Open(string kind, string node, int limit, string why)
    {
        if (TryOpen(kind, node, limit) is { } handle) return handle;
        hygiene?.CallRefused();
        throw new RpcException(new Status(StatusCode.ResourceExhausted, $"node '{node}' already has {limit} {kind} calls open; at most {limit} ({why})"));
    }

    /// <summary>Like <see cref="Open"/>, for any caller; null (nothing counted) past <paramref name="limit"/>.</summary>
    public IDisposable? TryOpen(string kind, string caller, int limit)
    {
        var key = (kind, caller);
        lock (_lock)
        {
            int open = _open.GetValueOrDefault(key);
            if (open >= limit) return null;
            _open[key] = open + 1;
        }
        return new Release(() =>
        {
            lock (_lock)
            {
                if (--_open[key] == 0) _open.Remove(key);
            }
        });
    }
}
