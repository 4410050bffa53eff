using Cohort.Clients;
using Cohort.Engine.Nodes;
using Cohort.Engine.State;
using Cohort.Server.Fleet;
using Prometheus;

namespace Cohort.Server.Observability;

/// <summary>
/// The server's Prometheus metrics, in a registry of its own (so two servers in one process, as in
/// tests, never mix their counts). Served at <c>/metrics</c>.
/// </summary>
internal sealed class ServerMetrics
{
    /// <summary>Histogram buckets for round durations, in seconds.</summary>
    private static readonly double[] RoundBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

    /// <summary>
    /// Creates the metrics; gauges of nodes and runs are read from <paramref name="registry"/> and <paramref name="store"/>
    /// at each scrape, and the number of runs waiting for nodes from <paramref name="waitingRuns"/> (none when null).
    /// </summary>
    public ServerMetrics(NodeRegistry registry, IStateStore store, Func<int>? waitingRuns = null)
    {
        Registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        NodesOnline = f.CreateGauge("cohort_nodes_online", "Nodes connected now (online or busy).");
        NodesBusy = f.CreateGauge("cohort_nodes_busy", "Nodes working on a task now.");
        NodesKnown = f.CreateGauge("cohort_nodes_known", "Nodes the server holds a token for or has seen.");
        Runs = f.CreateGauge("cohort_runs", "Runs by status.", "status");
        RunsWaiting = f.CreateGauge("cohort_runs_waiting_for_nodes", "Running runs waiting now for enough eligible nodes (each also counts as running).");
        Rounds = f.CreateCounter("cohort_rounds_total", "Rounds completed, by outcome (done or failed).", "outcome");
        RoundDuration = f.CreateHistogram("cohort_round_duration_seconds", "Wall time of a round, from its start to its checkpoint.",
            new HistogramConfiguration { Buckets = RoundBuckets });
        AggregationTime = f.CreateHistogram("cohort_aggregation_seconds", "Server time spent aggregating a round's fit results.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 4, 12) });
        BytesIn = f.CreateCounter("cohort_bytes_in_total", "Parameter bytes received from nodes (results).");
        BytesOut = f.CreateCounter("cohort_bytes_out_total", "Parameter bytes sent to nodes (tasks).");
        Tasks = f.CreateCounter("cohort_tasks_total", "Tasks answered, by phase and outcome (ok or failed).", "phase", "outcome");
        Failures = f.CreateCounter("cohort_task_failures_total", "Failed tasks by reason.", "reason");
        MemoryHygiene = f.CreateCounter("cohort_memory_hygiene_total", "Passes that gave memory back (a compacting collection and a trim of the native heap), by trigger: rounds, connections or refusals.", "trigger");
        MemoryHygieneSeconds = f.CreateCounter("cohort_memory_hygiene_seconds_total", "Time those passes held the process paused.");
        foreach (var status in Enum.GetValues<RunStatus>()) Runs.WithLabels(status.ToText()).Set(0);
        foreach (var outcome in Enum.GetValues<RoundStatus>()) Rounds.WithLabels(outcome.ToText());
        foreach (var trigger in new[] { Hosting.MemoryHygiene.RoundsTrigger, Hosting.MemoryHygiene.ConnectionsTrigger, Hosting.MemoryHygiene.RefusalsTrigger }) MemoryHygiene.WithLabels(trigger);

        Registry.AddBeforeCollectCallback(async ct =>
        {
            var live = registry.All;
            NodesOnline.Set(live.Count(n => n.Online));
            NodesBusy.Set(live.Count(n => n.Status == NodeStatus.Busy));
            var known = await store.ListNodesAsync(ct);
            NodesKnown.Set(known.Select(n => n.Name).Union(live.Select(n => n.Name)).Count());
            var counts = (await store.ListRunsAsync(null, ct)).GroupBy(r => r.Status).ToDictionary(g => g.Key, g => g.Count());
            foreach (var status in Enum.GetValues<RunStatus>())
                Runs.WithLabels(status.ToText()).Set(counts.GetValueOrDefault(status));
            RunsWaiting.Set(waitingRuns?.Invoke() ?? 0);
        });
    }

    /// <summary>The registry <c>/metrics</c> exports.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>cohort_nodes_online.</summary>
    public Gauge NodesOnline { get; }

    /// <summary>cohort_nodes_busy.</summary>
    public Gauge NodesBusy { get; }

    /// <summary>cohort_nodes_known.</summary>
    public Gauge NodesKnown { get; }

    /// <summary>cohort_runs{status}.</summary>
    public Gauge Runs { get; }

    /// <summary>cohort_runs_waiting_for_nodes.</summary>
    public Gauge RunsWaiting { get; }

    /// <summary>cohort_rounds_total{outcome}.</summary>
    public Counter Rounds { get; }

    /// <summary>cohort_round_duration_seconds.</summary>
    public Histogram RoundDuration { get; }

    /// <summary>cohort_aggregation_seconds.</summary>
    public Histogram AggregationTime { get; }

    /// <summary>cohort_bytes_in_total.</summary>
    public Counter BytesIn { get; }

    /// <summary>cohort_bytes_out_total.</summary>
    public Counter BytesOut { get; }

    /// <summary>cohort_tasks_total{phase,outcome}.</summary>
    public Counter Tasks { get; }

    /// <summary>cohort_task_failures_total{reason}.</summary>
    public Counter Failures { get; }

    /// <summary>cohort_memory_hygiene_total{trigger}.</summary>
    public Counter MemoryHygiene { get; }

    /// <summary>cohort_memory_hygiene_seconds_total.</summary>
    public Counter MemoryHygieneSeconds { get; }

    /// <summary>Counts one task outcome as recorded by the run executor.</summary>
    public void ObserveTask(NodeResultRecord result)
    {
        Tasks.WithLabels(result.Phase, result.Ok ? "ok" : "failed").Inc();
        if (result.UploadBytes > 0) BytesIn.Inc(result.UploadBytes);
        if (!result.Ok) Failures.WithLabels(FailureLabel(result.Failure ?? FailureKind.Other)).Inc();
    }

    /// <summary>Counts one saved round.</summary>
    public void ObserveRound(RoundRecord round)
    {
        bool done = round.Status == RoundStatus.Done;
        Rounds.WithLabels(round.Status.ToText()).Inc();
        if (round.FinishedAt is { } end) RoundDuration.Observe(Math.Max(0, (end - round.StartedAt).TotalSeconds));
        if (done) AggregationTime.Observe(round.AggregationSeconds);
    }

    /// <summary>
    /// The bounded label of a failure kind (Prometheus labels must not carry free text). It comes from the
    /// kind the engine recorded, never from the message, so rewording a message changes no metric.
    /// </summary>
    public static string FailureLabel(FailureKind kind) => kind switch
    {
        FailureKind.Timeout => "timeout",
        FailureKind.Offline => "offline",
        FailureKind.NodeRestarted => "node_restarted",
        FailureKind.ClientError => "node_error",
        FailureKind.Rejected => "rejected",
        FailureKind.Refused => "refused",
        FailureKind.Stopped => "stopped",
        FailureKind.Cancelled => "cancelled",
        FailureKind.Undeliverable => "undeliverable",
        FailureKind.SitePolicy => "site_policy",
        FailureKind.Internal => "internal",
        _ => "other",
    };
}
