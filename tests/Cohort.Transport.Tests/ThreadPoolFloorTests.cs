namespace Cohort.Transport.Tests;

/// <summary>The server and node raise the thread pool's minimum, so that a few blocked threads cannot stall a round.</summary>
public sealed class ThreadPoolFloorTests
{
    [Fact]
    public void Raise_lifts_the_worker_minimum_and_never_lowers_a_higher_one()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        try
        {
            ThreadPool.SetMinThreads(1, io);
            ThreadPoolFloor.Raise();
            ThreadPool.GetMinThreads(out int raised, out int ioAfter);
            Assert.Equal(ThreadPoolFloor.MinimumWorkers, raised);
            Assert.Equal(io, ioAfter);

            ThreadPool.SetMinThreads(ThreadPoolFloor.MinimumWorkers * 2, io);
            ThreadPoolFloor.Raise();
            ThreadPool.GetMinThreads(out int kept, out _);
            Assert.Equal(ThreadPoolFloor.MinimumWorkers * 2, kept);
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, io);
        }
    }
}
