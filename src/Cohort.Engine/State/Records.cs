using Cohort.Clients;
using Cohort.Records;

namespace Cohort.Engine.State;

/// <summary>One run as stored.</summary>
public sealed record RunRecord(
    string Id, string Name, string Experiment, string App, string Strategy, RunStatus Status,
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
    string RunId, int Round, RoundStatus Status, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt,
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
    Clients.FailureKind? Failure = null)
{
    /// <summary>The task kind <see cref="Phase"/> names; an unknown stored phase is a damaged store.</summary>
    internal Clients.TaskKind Kind => StatusText.StoredPhase(Phase, "node_results");
}

/// <summary>A known node.</summary>
internal sealed record NodeRecord(string Name, NodeStatus Status, DateTimeOffset? LastSeen, string? Address, string? App, string? Version);

/// <summary>A node's token as stored: when it was issued (null for one issued before the store recorded that) and when the node was last seen; never its hash.</summary>
internal sealed record NodeTokenRecord(string Node, DateTimeOffset? CreatedAt, DateTimeOffset? LastSeen);

/// <summary>Something that happened, for the audit trail and the run's history.</summary>
internal sealed record EventRecord(long Id, DateTimeOffset At, string? RunId, string Kind, string Message);
