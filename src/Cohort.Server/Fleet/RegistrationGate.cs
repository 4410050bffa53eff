using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace Cohort.Server.Fleet;

/// <summary>
/// Writes the state of node registrations (node record, event) one after another on one loop. A fleet that
/// reconnects at once after a server restart sends hundreds of registrations in a second; SQLite takes one
/// writer at a time and the others wait in its busy handler, each blocking a thread-pool thread, so without
/// this the pool runs dry and the heartbeats of nodes already back queue until the node timeout marks them
/// offline. A registration waiting here holds no thread, and the loop goes from one write to the next
/// without a trip through the pool's queue.
/// Each node may register <see cref="Burst"/> times at once and then once per <see cref="Refill"/>
/// (<see cref="TryAdmit"/>): a node registers once per session, so more is a loop or a flood, and each
/// registration writes an event and an audit entry and fails the node's open tasks.
/// </summary>
internal sealed class RegistrationGate : IDisposable
{
    /// <summary>Registrations a node may make in quick succession.</summary>
    public const int Burst = 5;

    /// <summary>How often a node that used up its burst may register again.</summary>
    public static readonly TimeSpan Refill = TimeSpan.FromSeconds(1);

    // Per node name (only authenticated names reach here): registrations in hand, and when that was counted.
    private readonly ConcurrentDictionary<string, (double Left, long Stamp)> _allowance = new(StringComparer.Ordinal);

    private readonly Channel<(Func<Task> Write, TaskCompletionSource Done)> _queue =
        Channel.CreateUnbounded<(Func<Task>, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Starts the loop.</summary>
    public RegistrationGate() => _ = Task.Run(DrainAsync);

    /// <summary>
    /// Counts a registration of <paramref name="node"/>; false when it has used up its allowance, with how long until
    /// it may register again in <paramref name="wait"/>.
    /// </summary>
    public bool TryAdmit(string node, out TimeSpan wait)
    {
        long now = Stopwatch.GetTimestamp();
        bool admitted = false;
        TimeSpan until = TimeSpan.Zero;
        _allowance.AddOrUpdate(node,
            _ =>
            {
                admitted = true;
                return (Burst - 1, now);
            },
            (_, was) =>
            {
                double left = Math.Min(Burst, was.Left + Stopwatch.GetElapsedTime(was.Stamp, now) / Refill);
                admitted = left >= 1;
                until = admitted ? TimeSpan.Zero : (1 - left) * Refill;
                return (admitted ? left - 1 : left, now);
            });
        wait = until;
        return admitted;
    }

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
