using System.Diagnostics;
using System.Runtime.InteropServices;
using Cohort.Server.Observability;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Hosting;

/// <summary>
/// Gives memory back while a long run goes on. Left alone, the garbage collector keeps the regions it
/// freed for later allocations and the C library keeps freed native pages, so a server's resident memory
/// creeps up over thousands of rounds although its live objects do not. Every
/// <see cref="ServerOptions.MemoryHygieneRounds"/> recorded rounds, but not sooner than
/// <see cref="ServerOptions.MemoryHygieneSpacing"/> after the last pass (or sooner, when the managed heap grew
/// by <see cref="GrowthBytes"/> since the last time), this runs one compacting, memory-returning collection
/// and trims the C library's heap. It runs on its own task once a round is recorded, so no round waits
/// for it to start; the collection itself pauses the whole process while it runs (the next round too,
/// if that has begun), which <c>cohort_memory_hygiene_seconds_total</c> adds up. A pass also follows
/// <see cref="Settle"/> after the last node registered: what the connections' setup left (TLS
/// handshakes, first calls) is given back before the server sits idle with its nodes. And one follows a burst of
/// refused calls, once it stops (<see cref="CallRefused"/>), when resident memory grew meanwhile.
/// </summary>
/// <param name="options">The server's options (<see cref="ServerOptions.MemoryHygieneRounds"/>).</param>
/// <param name="metrics">Where passes are counted.</param>
/// <param name="log">Where each pass is logged (debug).</param>
/// <param name="growthBytes">Managed heap growth since the last pass that makes the next one due whatever the round count.</param>
internal sealed partial class MemoryHygiene(ServerOptions options, ServerMetrics metrics, ILogger<MemoryHygiene> log, long growthBytes) : BackgroundService
{
    /// <summary>The default growth that makes a pass due early: a large model's rounds allocate a lot each.</summary>
    public const long GrowthBytes = 64L << 20;

    /// <summary>How long registrations must have stopped before the pass that follows them.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    /// <summary>The trigger label of a pass due to rounds (or heap growth).</summary>
    public const string RoundsTrigger = "rounds";

    /// <summary>The trigger label of a pass that followed node registrations.</summary>
    public const string ConnectionsTrigger = "connections";

    /// <summary>The trigger label of a pass after a burst of refused calls.</summary>
    public const string RefusalsTrigger = "refusals";

    /// <summary>
    /// The least time between two passes that refusals bring (or <c>--memory-hygiene-seconds</c>, when longer), and the
    /// longest a burst of refusals holds its pass off.
    /// </summary>
    public static readonly TimeSpan RefusalsApart = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _due = new(0, 1);
    private int _roundsSince;
    private long _heapAfterLast = GC.GetTotalMemory(forceFullCollection: false);
    private long _lastPass = long.MinValue;
    private long _residentAfterLast = Environment.WorkingSet;
    private volatile string _trigger = RoundsTrigger;
    private readonly Burst _registrations = new(ConnectionsTrigger, TimeSpan.MaxValue, _ => TimeSpan.Zero, _ => true);
    // A caller that floods, pauses and floods again brings a pass at most this often (each is a blocking collection), nor
    // more often than the operator's spacing of the rounds' passes.
    private readonly Burst _refusals = new(RefusalsTrigger, RefusalsApart,
        hygiene => hygiene.RefusalsSpacing,
        hygiene => hygiene.ResidentGrew());

    /// <summary>The server's pass, due early after <see cref="GrowthBytes"/> of heap growth.</summary>
    public MemoryHygiene(ServerOptions options, ServerMetrics metrics, ILogger<MemoryHygiene> log)
        : this(options, metrics, log, GrowthBytes)
    {
    }

    /// <summary>Counts a recorded round and wakes the pass when it is due (then returns true); cheap enough for every round.</summary>
    public bool RoundRecorded()
    {
        int every = options.MemoryHygieneRounds;
        if (every <= 0) return false;
        int rounds = Interlocked.Increment(ref _roundsSince);
        bool grown = GC.GetTotalMemory(forceFullCollection: false) - Interlocked.Read(ref _heapAfterLast) >= growthBytes;
        // Rounds past the count keep counting until the spacing has passed: the pass comes with the first round after it.
        if (!grown && (rounds < every || !SpacingPassed())) return false;
        Interlocked.Exchange(ref _roundsSince, 0);
        Wake(RoundsTrigger);
        return true;
    }

    private bool SpacingPassed()
    {
        long last = Interlocked.Read(ref _lastPass);
        return last == long.MinValue || Stopwatch.GetElapsedTime(last) >= options.MemoryHygieneSpacing;
    }

    /// <summary>Notes a node's registration; a pass follows once registrations have stopped for <see cref="Settle"/>.</summary>
    public void NodeRegistered()
    {
        if (options.MemoryHygieneRounds > 0) _registrations.Touch(this);
    }

    /// <summary>
    /// Notes a call the call gate refused (unauthenticated, too many of the caller's, too slow, undecodable), or one a node
    /// opened past its limit of open calls (task pulls, result calls). Once refusals
    /// have stopped for <see cref="Settle"/>, or have gone on for <see cref="RefusalsApart"/>, and once that long has passed
    /// since the last such pass, a pass follows if the process's resident memory grew, since the last pass, by the growth
    /// that makes a round's pass due early: what a flood of hostile calls left (connection buffers, requests read) goes
    /// back then, not at the next run's rounds.
    /// </summary>
    public void CallRefused()
    {
        if (options.MemoryHygieneRounds > 0) _refusals.Touch(this);
    }

    private TimeSpan RefusalsSpacing => options.MemoryHygieneSpacing > RefusalsApart ? options.MemoryHygieneSpacing : RefusalsApart;

    private bool ResidentGrew() => Environment.WorkingSet - Interlocked.Read(ref _residentAfterLast) >= growthBytes;

    // A burst of events (registrations, refusals) followed by a pass once they have stopped for Settle, or once the burst
    // has gone on for `longest` (a trickle that never stops must not hold the pass off for ever), and at least `apart`
    // after the last pass it brought; if due then.
    private sealed class Burst(string trigger, TimeSpan longest, Func<MemoryHygiene, TimeSpan> apart, Func<MemoryHygiene, bool> due)
    {
        private long _first;
        private long _last;
        private long _woke = long.MinValue;
        private int _settling;

        public void Touch(MemoryHygiene owner)
        {
            long now = Stopwatch.GetTimestamp();
            Interlocked.Exchange(ref _last, now);
            if (Interlocked.Exchange(ref _settling, 1) == 1) return;
            Interlocked.Exchange(ref _first, now);
            _ = Task.Run(async () =>
            {
                try
                {
                    // An hour at a time: an operator's spacing may pass what one delay can wait.
                    for (var wait = Wait(owner); wait > TimeSpan.Zero; wait = Wait(owner)) await Task.Delay(wait < TimeSpan.FromHours(1) ? wait : TimeSpan.FromHours(1));
                }
                finally
                {
                    Volatile.Write(ref _settling, 0);
                }
                if (!due(owner)) return;
                Interlocked.Exchange(ref _woke, Stopwatch.GetTimestamp());
                owner.Wake(trigger);
            });
        }

        private TimeSpan Wait(MemoryHygiene owner)
        {
            var quiet = Settle - Stopwatch.GetElapsedTime(Interlocked.Read(ref _last));
            var cut = longest - Stopwatch.GetElapsedTime(Interlocked.Read(ref _first));
            if (cut < quiet) quiet = cut;
            long woke = Interlocked.Read(ref _woke);
            var spacing = woke == long.MinValue ? TimeSpan.Zero : apart(owner) - Stopwatch.GetElapsedTime(woke);
            return quiet > spacing ? quiet : spacing;
        }
    }

    private void Wake(string trigger)
    {
        // A pass already waiting folds this one in; one the rounds made due keeps their label, so their spacing counts it.
        if (_due.CurrentCount > 0 && _trigger == RoundsTrigger) return;
        _trigger = trigger;
        // At most one pass waiting: what comes due while one waits or runs folds into it.
        try
        {
            if (_due.CurrentCount == 0) _due.Release();
        }
        catch (SemaphoreFullException)
        {
            // Woken by another trigger at the same moment.
        }
        catch (ObjectDisposedException)
        {
            // The server stopped meanwhile.
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.MemoryHygieneRounds <= 0) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _due.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            long before = Environment.WorkingSet;
            var pause = Stopwatch.StartNew();
            GiveBack();
            pause.Stop();
            long after = Environment.WorkingSet;
            Interlocked.Exchange(ref _residentAfterLast, after);
            Interlocked.Exchange(ref _heapAfterLast, GC.GetTotalMemory(forceFullCollection: false));
            string trigger = _trigger;
            // The spacing is between passes that rounds made due: those after registrations or refusals are one-offs.
            if (trigger == RoundsTrigger) Interlocked.Exchange(ref _lastPass, Stopwatch.GetTimestamp());
            metrics.MemoryHygiene.WithLabels(trigger).Inc();
            metrics.MemoryHygieneSeconds.Inc(pause.Elapsed.TotalSeconds);
            log.LogDebug("Memory hygiene: resident {Before:F1} MiB -> {After:F1} MiB in {Ms:F1} ms", before / 1048576.0, after / 1048576.0, pause.Elapsed.TotalMilliseconds);
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _due.Dispose();
        base.Dispose();
    }

    /// <summary>
    /// One compacting collection that decommits what it frees (instead of keeping it for later
    /// allocations), then the C library's free pages back to the system.
    /// </summary>
    public static void GiveBack()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        TrimNativeHeap();
    }

    /// <summary>Returns the free pages of glibc's heap to the system; a no-op on other C libraries and systems.</summary>
    private static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): nothing to trim this way.
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
