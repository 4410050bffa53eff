namespace Cohort.Learning.Nn.Kernels;

/// <summary>A piece of work split into numbered chunks that may run on any thread in any order.</summary>
internal interface IParallelWork
{
    /// <summary>Runs chunk <paramref name="chunk"/>.</summary>
    void Execute(int chunk);
}

/// <summary>
/// Fork-join over a few long-lived background threads for the engine's kernels. The caller takes
/// chunks itself while helpers join in, so a helper the OS schedules late (a busy, shared machine)
/// costs at most the chunk it already took, never the whole split; and nothing is allocated per
/// call, unlike Parallel.For. One split runs at a time: a caller that finds the pool busy (several
/// virtual clients training at once) runs its chunks alone, which is then the right thing anyway.
/// </summary>
internal sealed class WorkerPool
{
    private static readonly Lazy<WorkerPool> SharedPool = new(() => new WorkerPool(Math.Max(0, Environment.ProcessorCount - 1)));

    private readonly SemaphoreSlim _wake = new(0);
    private readonly Lock _gate = new();
    private readonly int _helpers;
    private IParallelWork? _work;
    private int _chunks;
    private int _done;
    private long _state; // generation << 32 | next chunk
    private Exception? _error;

    private WorkerPool(int helpers)
    {
        _helpers = helpers;
        for (int i = 0; i < helpers; i++)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"cohort-nn-{i + 1}" };
            thread.Start();
        }
    }

    /// <summary>The process-wide pool: one helper per core beyond the caller's.</summary>
    public static WorkerPool Shared => SharedPool.Value;

    /// <summary>Runs chunks 0 … <paramref name="chunks"/> − 1 of <paramref name="work"/> on up to <paramref name="threads"/> threads (the caller included) and returns when all are done.</summary>
    public void Run(IParallelWork work, int chunks, int threads)
    {
        int helpers = Math.Min(Math.Min(threads - 1, _helpers), chunks - 1);
        if (helpers <= 0 || !_gate.TryEnter())
        {
            for (int i = 0; i < chunks; i++) work.Execute(i);
            return;
        }
        try
        {
            // Close the pool (index beyond any chunk count) before touching the job fields, so a
            // late helper can never pair this job's fields with a position of the last one.
            long generation = (Volatile.Read(ref _state) >> 32) + 1;
            Interlocked.Exchange(ref _state, generation << 32 | int.MaxValue);
            _work = work;
            _chunks = chunks;
            _done = 0;
            _error = null;
            Volatile.Write(ref _state, generation << 32);
            _wake.Release(helpers);
            Drain();
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) < chunks) spin.SpinOnce(sleep1Threshold: -1);
            Interlocked.Exchange(ref _state, generation << 32 | int.MaxValue);
            _work = null;
            if (_error is { } e) throw new AggregateException("a parallel kernel failed", e);
        }
        finally
        {
            _gate.Exit();
        }
    }

    private void Loop()
    {
        while (true)
        {
            _wake.Wait();
            Drain();
        }
    }

    // Takes chunks of the open job until none remain. A chunk counts only if the state word is
    // unchanged from the read that preceded reading the job fields to the claiming CAS; the
    // generation in its high half makes that word unique to one job.
    private void Drain()
    {
        while (true)
        {
            long s = Volatile.Read(ref _state);
            int next = (int)(s & 0xffffffff);
            var work = _work;
            int chunks = _chunks;
            if (work is null || next >= chunks) return;
            if (Interlocked.CompareExchange(ref _state, s + 1, s) != s) continue;
            try
            {
                work.Execute(next);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
            Interlocked.Increment(ref _done);
        }
    }
}
