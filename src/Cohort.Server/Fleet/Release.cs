namespace Cohort.Server.Fleet;

/// <summary>Gives back what was taken (a reservation, a counted call) once, when disposed, however often that is.</summary>
internal sealed class Release(Action release) : IDisposable
{
    private int _done;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0) release();
    }
}
