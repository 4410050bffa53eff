using System.Diagnostics;
using System.Threading.Channels;
using Cohort.Apps;
using Cohort.Clients;
using Cohort.Engine.Nodes;
using Cohort.Records;
using Cohort.Simulation.Partitioners;

namespace Cohort.Simulation;

/// <summary>
/// The nodes of a simulation: N virtual clients in this process, each only a name and a partition
/// (an index range into the shared data set) while idle. A client app is created from the factory
/// when a client is sampled, runs its task on one of <c>workers</c> loops, and is released after it.
/// <para>
/// Determinism: the run executor folds results into the strategy in the order the pool completes
/// them, and float sums depend on that order. So the pool completes tasks strictly in the order they
/// were submitted (the strategy's sampled order), holding back a result that finishes before an
/// earlier one; at most about <c>workers</c> results wait. The same plan and seed therefore give
/// bit-identical global models whatever the thread timing.
/// </para>
/// </summary>
internal sealed class VirtualNodePool : INodePool, IAsyncDisposable
{
    private readonly IClientAppFactory _factory;
    private readonly ResultValidator _validator = new();
    private readonly ISimulationDataset _dataset;
    private readonly PartitionSet _partitions;
    private readonly Config _nodeSettings;
    private readonly IReadOnlyList<string> _names;
    private readonly Dictionary<string, int>? _indexOf;
    private readonly NumberedClientNames? _numbered;
    private readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleWriter = false, SingleReader = false });
    private readonly Task[] _workers;
    private readonly object _gate = new();
    private readonly Queue<Job> _undelivered = new();
    private readonly Dictionary<PendingTask, Job> _jobs = new(ReferenceEqualityComparer.Instance);
    private readonly ClientTaskRunner _runner = ClientTaskRunner.InProcess(seededNoise: true);
    // What stateful apps kept after each client's last fit (SCAFFOLD's local control variate), by run and client: only
    // clients whose app keeps state have an entry.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, object> _clientStates = new(StringComparer.Ordinal);
    private int _running;
    private int _peakRunning;

    /// <summary>Creates the pool and starts <paramref name="workers"/> worker loops.</summary>
    public VirtualNodePool(IClientAppFactory factory, ISimulationDataset dataset, PartitionSet partitions, int workers, Config? nodeSettings = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _factory = factory;
        _dataset = dataset;
        _partitions = partitions;
        _nodeSettings = nodeSettings ?? Config.Empty;
        if (partitions.Names is { } given)
        {
            _names = [.. given];
            _indexOf = new Dictionary<string, int>(given.Count, StringComparer.Ordinal);
            for (int i = 0; i < _names.Count; i++)
            {
                if (!_indexOf.TryAdd(_names[i], i)) throw new ArgumentException($"client name '{_names[i]}' appears twice");
            }
        }
        else
        {
            // Zero-padded numbers sort in client order and map back to an index without a lookup table;
            // made on demand, so an idle client costs no string and a round reads only the names it samples.
            _numbered = new NumberedClientNames(partitions.Clients);
            _names = _numbered;
        }
        _workers = new Task[workers];
        for (int w = 0; w < workers; w++) _workers[w] = Task.Run(WorkAsync);
    }

    /// <summary>The clients' names, in client order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Most virtual clients that ran at the same time so far.</summary>
    public int PeakRunning => Volatile.Read(ref _peakRunning);

    /// <summary>Called with a client's name and what its app threw (creating it, or in a task), so a caller can show the stack trace.</summary>
    public Action<string, Exception>? AppFault { get; init; }

    /// <summary>Virtual clients holding a live client app right now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <inheritdoc />
    public IReadOnlyList<string> Available(string app) =>
        string.Equals(app, _factory.Name, StringComparison.OrdinalIgnoreCase) ? _names : [];

    /// <inheritdoc />
    public Task<TaskOutcome> Submit(PendingTask task)
    {
        var job = new Job(task);
        lock (_gate)
        {
            _undelivered.Enqueue(job);
            _jobs[task] = job;
        }
        if (!_queue.Writer.TryWrite(job)) Complete(job, TaskOutcome.Failed(FailureKind.Cancelled, "the simulation is shutting down"));
        return task.Completion.Task;
    }

    /// <inheritdoc />
    public void Fail(PendingTask task, FailureKind kind, string reason)
    {
        Job? job;
        lock (_gate) _jobs.TryGetValue(task, out job);
        if (job is null) return;
        job.Cancel.Cancel();
        Complete(job, TaskOutcome.Failed(kind, reason));
    }

    /// <summary>The partition of client <paramref name="client"/>.</summary>
    public DataPartition PartitionOf(int client) => new(client, _partitions.Clients, _dataset, _partitions.Of(client));

    private int IndexOf(string node) =>
        _indexOf is not null ? (_indexOf.TryGetValue(node, out int i) ? i : -1) : _numbered!.IndexOf(node);

    private async Task WorkAsync()
    {
        await foreach (var job in _queue.Reader.ReadAllAsync())
        {
            if (job.Outcome is not null) continue; // failed (timeout, stop) before it started
            var outcome = await RunAsync(job);
            Complete(job, outcome);
        }
    }

    private async Task<TaskOutcome> RunAsync(Job job)
    {
        var task = job.Task;
        int client = IndexOf(task.Node);
        if (client < 0) return TaskOutcome.Failed(FailureKind.Refused, $"no virtual client '{task.Node}'");
        int running = Interlocked.Increment(ref _running);
        int peak;
        while (running > (peak = Volatile.Read(ref _peakRunning)) && Interlocked.CompareExchange(ref _peakRunning, running, peak) != peak)
        {
        }
        var clock = Stopwatch.StartNew();
        IClientApp? app = null;
        try
        {
            try
            {
                app = _factory.Create(new ClientAppContext(task.RunId, task.Node, task.AppSettings, _nodeSettings, PartitionOf(client)));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The app could not even be created (bad settings, unreadable data): the round's failure, as a crashing node would be; the worker goes on.
                AppFault?.Invoke(task.Node, e);
                return TaskOutcome.Failed(FailureKind.ClientError, $"{e.GetType().Name}: {e.Message}", clock.Elapsed.TotalSeconds);
            }
            // The same chain as a node's (local DP seeded per round and client so that a simulation stays
            // reproducible, personal tensors kept per client across tasks), plus the Fleet API's checks.
            string stateKey = $"{task.RunId}\n{task.Node}";
            if (app is IStatefulClientApp stateful && _clientStates.TryGetValue(stateKey, out var state)) stateful.RestoreState(state);
            var reply = await _runner.RunAsync(app, task.ToClientTask(), job.Cancel.Token);
            // Only a fit changes an app's own state; kept per client (and run) for its next app.
            if (app is IStatefulClientApp kept && task.Kind == TaskKind.Fit && reply.Ok && kept.SaveState() is { } saved) _clientStates[stateKey] = saved;
            if ((reply.AppFault ?? reply.Fault) is { } fault) AppFault?.Invoke(task.Node, fault);
            return reply.ToOutcome(clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException)
        {
            return TaskOutcome.Failed(FailureKind.Cancelled, "cancelled", clock.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            // The runner turns the app's own failures into replies: what reaches here is a defect in Cohort. It fails
            // the task as Internal, with the exception kept so the executor logs its stack trace; the worker goes on.
            return ClientReply.Broken(e).ToOutcome(clock.Elapsed.TotalSeconds);
        }
        finally
        {
            switch (app)
            {
                case IAsyncDisposable ad: await ad.DisposeAsync(); break;
                case IDisposable d: d.Dispose(); break;
            }
            Interlocked.Decrement(ref _running);
        }
    }

    private void Complete(Job job, TaskOutcome outcome)
    {
        lock (_gate)
        {
            if (job.Outcome is not null) return;
            job.Outcome = outcome;
            // Deliver in submission order, under the lock, so completions happen one after another.
            while (_undelivered.TryPeek(out var head) && head.Outcome is not null)
            {
                _undelivered.Dequeue();
                _jobs.Remove(head.Task);
                head.Task.Completion.TrySetResult(head.Outcome);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        List<Job> left;
        lock (_gate) left = [.. _undelivered];
        foreach (var job in left)
        {
            job.Cancel.Cancel();
            Complete(job, TaskOutcome.Failed(FailureKind.Cancelled, "the simulation ended"));
        }
        await Task.WhenAll(_workers);
    }

    private sealed class Job(PendingTask task)
    {
        public PendingTask Task { get; } = task;

        // Never disposed: a plain CancellationTokenSource holds no timer, and Fail may race with delivery.
        public CancellationTokenSource Cancel { get; } = new();

        public TaskOutcome? Outcome { get; set; }
    }
}
