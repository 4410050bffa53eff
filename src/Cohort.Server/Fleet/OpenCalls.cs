using Grpc.Core;

namespace Cohort.Server.Fleet;

/// <summary>
/// Counts the calls each node holds open, by kind (result calls, kept-open task pulls), and refuses one past the kind's
/// limit with ResourceExhausted before it waits for anything: every open call holds server memory, however idle.
/// </summary>
internal sealed class OpenCalls
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Kind, string Node), int> _open = [];

    /// <summary>Counts a <paramref name="kind"/> call <paramref name="node"/> opens until the returned handle is disposed; throws past <paramref name="limit"/>.</summary>
    public IDisposable Open(string kind, string node, int limit, string why)
    {
        var key = (kind, node);
        lock (_lock)
        {
            int open = _open.GetValueOrDefault(key);
            if (open >= limit)
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"node '{node}' already has {open} {kind} calls open; at most {limit} ({why})"));
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
