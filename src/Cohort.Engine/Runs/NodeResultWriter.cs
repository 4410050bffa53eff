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
    /// its record, and a long round's results reach the state store (the dashboard's run page) this long after the first of
    /// them arrives, plus the time of the write.
    /// </summary>
    public static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private readonly List<NodeResultRecord> _queued = [];
    private Task _writing = Task.CompletedTask;
    private bool _draining;
    private ITimer? _due;
    // The first batch the store refused: thrown by every later flush or take, so a round never counts as recorded without it.
    private Exception? _failure;

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
            if (!_draining) ArmDue();
        }
    }

    /// <summary>Writes everything queued now and waits until every result added so far is stored; throws what the store threw.</summary>
    public async Task FlushAsync()
    {
        Drain();
        Task writing;
        lock (_gate) writing = _writing;
        await writing;
        ThrowIfFailed();
    }

    /// <summary>
    /// The results queued and not yet written, in order, for the caller to commit with its round, once no batch is being
    /// written (results that arrived before them). Throws what the store threw for any batch, the results still queued;
    /// a caller whose commit of them fails gives them back (<see cref="Requeue"/>).
    /// </summary>
    public async Task<IReadOnlyList<NodeResultRecord>> TakeHeldAsync()
    {
        while (true)
        {
            Task writing;
            lock (_gate)
            {
                CancelDue();
                if (!_draining)
                {
                    ThrowIfFailed();
                    NodeResultRecord[] held = [.. _queued];
                    _queued.Clear();
                    return held;
                }
                writing = _writing;
            }
            await writing;
        }
    }

    /// <summary>Puts results taken by <see cref="TakeHeldAsync"/> back in front of any queued since, for a flush to write.</summary>
    public void Requeue(IReadOnlyList<NodeResultRecord> results)
    {
        lock (_gate) _queued.InsertRange(0, results);
    }

    private void ThrowIfFailed()
    {
        lock (_gate)
        {
            if (_failure is { } failure) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    private void ArmDue() => _due ??= TimeProvider.System.CreateTimer(_ => Drain(), null, hold, Timeout.InfiniteTimeSpan);

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
        catch (Exception e)
        {
            lock (_gate)
            {
                _draining = false;
                _failure ??= e;
                // Results queued while the failed batch was written still get their batch.
                if (_queued.Count > 0) ArmDue();
            }
            throw;
        }
    }
}
