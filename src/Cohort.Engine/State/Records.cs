using Cohort.Clients;
using Cohort.Records;

namespace Cohort.Engine.State;

/// <summary>Run status values as stored and shown.</summary>
public static class RunStatus
{
    /// <summary>Submitted, waiting for its turn.</summary>
    public const string Queued = "queued";

    /// <summary>Rounds in progress.</summary>
    public const string Running = "running";

    /// <summary>All rounds done.</summary>
    public const string Finished = "finished";

    /// <summary>Stopped by an error; <see cref="RunRecord.Error"/> says why.</summary>
    public const string Failed = "failed";

    /// <summary>Stopped by an operator.</summary>
    public const string Stopped = "stopped";

    /// <summary>True for a status that will not change again.</summary>
    public static bool IsFinal(string status) => status is Finished or Failed or Stopped;
}

/// <summary>One run as stored.</summary>
public sealed record RunRecord(
    string Id, string Name, string Experiment, string App, string Strategy, string Status,
    int RoundsPlanned, int RoundsDone, string PlanYaml,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Error)
{
    /// <summary>Who submitted the run (a user, token or certificate name); null when not recorded.</summary>
    public string? Submitter { get; init; }
}

/// <summary>
/// One round of a run as stored: the federated evaluation summary, aggregation timing and
/// <paramref name="Phases"/>, the seconds spent in each phase of the round (empty when not timed).
/// </summary>
public sealed record RoundRecord(
    string RunId, int Round, string Status, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt,
    double AggregationSeconds, double? Loss, Metrics Metrics, Metrics FitMetrics,
    double? CentralLoss, Metrics CentralMetrics, string? Error, Metrics? Phases = null)
{
    /// <summary>Seconds per round phase name (see <c>RoundPhaseTimer.Names</c>); empty for rounds that were not timed.</summary>
    public Metrics Phases { get; init; } = Phases ?? Metrics.Empty;
}

/// <summary>One node's result (or failure) for one phase of one round; <paramref name="Failure"/> is known when it is written, not stored.</summary>
public sealed record NodeResultRecord(
    string RunId, int Round, string Node, string Phase, bool Ok, string? Error,
    long Examples, double? Loss, Metrics Metrics, double DurationSeconds, long UploadBytes, DateTimeOffset At,
    Clients.FailureKind? Failure = null);

/// <summary>A known node.</summary>
internal sealed record NodeRecord(string Name, string Status, DateTimeOffset? LastSeen, string? Address, string? App, string? Version);

/// <summary>Something that happened, for the audit trail and the run's history.</summary>
internal sealed record EventRecord(long Id, DateTimeOffset At, string? RunId, string Kind, string Message);

/// <summary>Round status values as stored and shown.</summary>
public static class RoundStatus
{
    /// <summary>Aggregated and saved.</summary>
    public const string Done = "done";

    /// <summary>Too few usable results; <see cref="RoundRecord.Error"/> says why.</summary>
    public const string Failed = "failed";
}

/// <summary>Node status values as stored and shown.</summary>
internal static class NodeStatus
{
    /// <summary>Holds a token but never registered.</summary>
    public const string Unknown = "unknown";

    /// <summary>Connected and idle.</summary>
    public const string Online = "online";

    /// <summary>Connected and working on a task.</summary>
    public const string Busy = "busy";

    /// <summary>No heartbeat within the node timeout.</summary>
    public const string Offline = "offline";

    /// <summary>True while connected (idle or busy).</summary>
    public static bool IsConnected(string status) => status is Online or Busy;
}
