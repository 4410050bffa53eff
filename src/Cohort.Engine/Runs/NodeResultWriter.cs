using Cohort.Engine.State;

namespace Cohort.Engine.Runs;

/// <summary>
/// Writes a round's node results in arrival order behind the round instead of in its way: the executor hands a
/// result over and goes on folding the next one, whatever is queued meanwhile is committed as one batch, and
/// <see cref="FlushAsync"/> waits for all of it (the round record is written only after its node results).
/// </summary>
internal sealed class NodeResultWriter(IStateStore store)
{
    private readonly Lock _gate = new();
    private readonly List<NodeResultRecord> _queued = [];
    private Task _writing = Task.CompletedTask;
    private bool _draining;

    /// <summary>Queues a result; it is written soon after, with any others queued by then.</summary>
    public void Add(NodeResultRecord record)
    {
        lock (_gate)
        {
            _queued.Add(record);
            if (_draining) return;
            _draining = true;
            _writing = Task.Run(DrainAsync);
        }
    }

    /// <summary>Waits until every result added so far is stored; throws what the store threw.</summary>
    public Task FlushAsync()
    {
        lock (_gate) return _writing;
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
