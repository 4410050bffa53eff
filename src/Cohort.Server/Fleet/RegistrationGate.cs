using System.Threading.Channels;

namespace Cohort.Server.Fleet;

/// <summary>
/// Writes the state of node registrations (node record, event) one after another on one loop. A fleet that
/// reconnects at once after a server restart sends hundreds of registrations in a second; SQLite takes one
/// writer at a time and the others wait in its busy handler, each blocking a thread-pool thread, so without
/// this the pool runs dry and the heartbeats of nodes already back queue until the node timeout marks them
/// offline. A registration waiting here holds no thread, and the loop goes from one write to the next
/// without a trip through the pool's queue.
/// </summary>
internal sealed class RegistrationGate : IDisposable
{
    private readonly Channel<(Func<Task> Write, TaskCompletionSource Done)> _queue =
        Channel.CreateUnbounded<(Func<Task>, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Starts the loop.</summary>
    public RegistrationGate() => _ = Task.Run(DrainAsync);

    /// <summary>Queues <paramref name="write"/> behind the writes of earlier registrations; completes when it has run.</summary>
    public Task WriteAsync(Func<Task> write, CancellationToken ct)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((write, done))) throw new ObjectDisposedException(nameof(RegistrationGate));
        return done.Task.WaitAsync(ct);
    }

    private async Task DrainAsync()
    {
        await foreach (var (write, done) in _queue.Reader.ReadAllAsync())
        {
            try
            {
                await write();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _queue.Writer.TryComplete();
}
