namespace Cohort.Server.Fleet;

/// <summary>
/// Lets one node registration at a time write its state (node record, event, audit entry). A fleet that
/// reconnects at once after a server restart sends hundreds of registrations in a second; SQLite takes
/// one writer at a time and the others wait in its busy handler, each blocking a thread-pool thread, so
/// without this the pool runs dry and the heartbeats of nodes already back queue until the node timeout
/// marks them offline. Registrations waiting here hold no thread.
/// </summary>
internal sealed class RegistrationGate : IDisposable
{
    private readonly SemaphoreSlim _writer = new(1, 1);

    /// <summary>Waits for the turn to write; dispose the result to hand it on.</summary>
    public async Task<IDisposable> EnterAsync(CancellationToken ct)
    {
        await _writer.WaitAsync(ct);
        return new Turn(_writer);
    }

    /// <inheritdoc />
    public void Dispose() => _writer.Dispose();

    private sealed class Turn(SemaphoreSlim writer) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) writer.Release();
        }
    }
}
