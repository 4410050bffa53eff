using Cohort.Engine.State;

namespace Cohort.Engine.Runs;

/// <summary>
/// Writes a round's node results behind the round instead of in its way. A result is held for <see cref="Hold"/> after the
/// first one queued, then whatever is queued is committed as one batch, in arrival order, while the executor goes on. A
/// round that ends sooner takes what is still held (<see cref="TakeHeldAsync"/>) into its own record's commit: a short
/// round then writes its results, its record and the run's count in one transaction, with no write of its own before.
/// <see cref="FlushAsync"/> writes everything queued now and waits for it (a failed or stopped round).
/// </summary>
/// <param name="store">Where the batches go.</param>
/// <param name="hold">How long the first result queued waits for others before its batch is written.</param>
internal sealed class NodeResultWriter(IStateStore store, TimeSpan hold)
{
    /// <summary>
    /// How long a result waits for others, or for its round's end: a round of a few milliseconds commits its results with
    /// its record, and a long round's results are still in the state store (the dashboard, <c>cohort runs show</c>) at
    /// most this long after they arrive.
    /// </summary>
    public static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private readonly List<NodeResultRecord> _queued = [];
    private Task _writing = Task.CompletedTask;
    private bool _draining;
    private ITimer? _due;

    /// <summary>A writer that holds each batch for <see cref="Hold"/>.</summary>
    public NodeResultWriter(IStateStore store)
        : this(store, Hold)
    {
    }

    /// <summary>Queues a result; it is written within the hold, with any others queued by then, unless its round takes it first.</summary>
    public void Add(NodeResultRecord record)
    {
        lock (_gate)
        {
            _queued.Add(record);
            if (_draining || _due is not null) return;
            _due = TimeProvider.System.CreateTimer(_ => Drain(), null, hold, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Writes everything queued now and waits until every result added so far is stored; throws what the store threw.</summary>
    public Task FlushAsync()
    {
        Drain();
        lock (_gate) return _writing;
    }

    /// <summary>
    /// The results queued and not yet being written, in order, for the caller to commit with its round; once the batch being
    /// written (results that arrived before them) is stored. Throws what the store threw for that batch.
    /// </summary>
    public async Task<IReadOnlyList<NodeResultRecord>> TakeHeldAsync()
    {
        NodeResultRecord[] held;
        Task writing;
        lock (_gate)
        {
            CancelDue();
            held = [.. _queued];
            _queued.Clear();
            writing = _writing;
        }
        await writing;
        return held;
    }

    private void Drain()
    {
        lock (_gate)
        {
            CancelDue();
            if (_draining || _queued.Count == 0) return;
            _draining = true;
            _writing = Task.Run(DrainAsync);
        }
    }

    private void CancelDue()
    {
        _due?.Dispose();
        _due = null;
    }

    private async Task DrainAsync()
    {
        try
        {
            while (true)
            {
                NodeResultRecord[] batch;
                lock (_gate)
                {
                    if (_queued.Count == 0)
                    {
                        _draining = false;
                        return;
                    }
                    batch = [.. _queued];
                    _queued.Clear();
                }
                // Not cancelled with the run: a stopped round's results are recorded as they were before.
                await store.AddNodeResultsAsync(batch, CancellationToken.None);
            }
        }
        catch
        {
            lock (_gate) _draining = false;
            throw;
        }
    }
}
