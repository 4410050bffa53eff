using Cohort.Server.Hosting;
using Grpc.Core;

namespace Cohort.Server.Fleet;

/// <summary>
/// Bounds the memory parameter uploads may hold: one active upload per task, a share per node and a
/// total for the server. An upload reserves its declared size before any byte is received; one that
/// could fit later waits (backpressure), one that can never fit is refused with ResourceExhausted.
/// </summary>
internal sealed class UploadBudget(ServerOptions options)
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _activeTasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _byNode = new(StringComparer.Ordinal);
    private long _total;
    private TaskCompletionSource _released = NewSignal();

    /// <summary>Bytes reserved by uploads in progress, over all nodes.</summary>
    public long ReservedBytes
    {
        get
        {
            lock (_lock) return _total;
        }
    }

    /// <summary>Marks <paramref name="taskId"/> as being uploaded; throws Aborted when another stream already uploads it.</summary>
    public IDisposable BeginTask(string taskId)
    {
        lock (_lock)
        {
            if (!_activeTasks.Add(taskId))
                throw new RpcException(new Status(StatusCode.Aborted, $"task '{taskId}' already has a result upload in progress; one upload per task at a time"));
        }
        return new Release(() =>
        {
            lock (_lock) _activeTasks.Remove(taskId);
        });
    }

    /// <summary>
    /// Reserves <paramref name="bytes"/> for <paramref name="node"/>, waiting up to the configured time for
    /// other uploads to finish; the lease gives the bytes back when disposed.
    /// </summary>
    public async Task<IDisposable> ReserveAsync(string node, long bytes, CancellationToken ct)
    {
        if (bytes > options.NodeUploadMemoryBytes)
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"upload of {bytes} bytes exceeds the per-node upload memory of {options.NodeUploadMemoryBytes} bytes"));
        if (bytes > options.UploadMemoryBytes)
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"upload of {bytes} bytes exceeds the server's upload memory of {options.UploadMemoryBytes} bytes"));
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(options.UploadBudgetWait);
        while (true)
        {
            Task released;
            lock (_lock)
            {
                long mine = _byNode.GetValueOrDefault(node);
                if (mine + bytes <= options.NodeUploadMemoryBytes && _total + bytes <= options.UploadMemoryBytes)
                {
                    _byNode[node] = mine + bytes;
                    _total += bytes;
                    return new Release(() => Give(node, bytes));
                }
                released = _released.Task;
            }
            try
            {
                await released.WaitAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"no upload memory for {bytes} bytes within {options.UploadBudgetWait.TotalSeconds:0}s (other uploads in progress); retry later"));
            }
        }
    }

    private void Give(string node, long bytes)
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            long left = _byNode[node] - bytes;
            if (left == 0) _byNode.Remove(node);
            else _byNode[node] = left;
            _total -= bytes;
            signal = _released;
            _released = NewSignal();
        }
        signal.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
