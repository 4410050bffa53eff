using Cohort.Clients;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Engine.State;
using Cohort.Records;

namespace Cohort.Engine.Nodes;

/// <summary>One task for one node, from dispatch until its result (or failure) is in.</summary>
internal sealed class PendingTask
{
    /// <summary>Unique id, also the idempotency key of the node's answer.</summary>
    public required string Id { get; init; }

    /// <summary>Node that must answer.</summary>
    public required string Node { get; init; }

    /// <summary>Run the task belongs to.</summary>
    public required string RunId { get; init; }

    /// <summary>Round number (0 for the initial get-parameters task).</summary>
    public required int Round { get; init; }

    /// <summary>Fit, evaluate or get-parameters.</summary>
    public required TaskKind Kind { get; init; }

    /// <summary>Client app the run needs.</summary>
    public required string App { get; init; }

    /// <summary>The plan's app settings.</summary>
    public required Config AppSettings { get; init; }

    /// <summary>The data set the plan names (the node gives its app that data set's path); null for the node's default data.</summary>
    public string? Dataset { get; init; }

    /// <summary>Config for this task, as the app reads it.</summary>
    public required Config Config { get; init; }

    /// <summary>What Cohort's client steps act on (seed, local privacy, local tensors), apart from the app's config.</summary>
    public TaskSettings Settings { get; init; } = TaskSettings.None;

    /// <summary>The run's terms (strategy, rounds, privacy, tags) a node checks against its site policy; null when not known.</summary>
    public Plans.RunTerms? Terms { get; init; }

    private ParameterSet? _parameters;
    private ParameterSet? _expected;

    /// <summary>Parameters sent with the task, if any (none once <see cref="ReleaseModels"/> ran).</summary>
    public ParameterSet? Parameters { get => _parameters; init => _parameters = value; }

    /// <summary>Shapes a returned parameter set must have; null accepts any (get-parameters).</summary>
    public ParameterSet? Expected { get => _expected; init => _expected = value; }

    /// <summary>
    /// Drops the task's references to models once it is answered: a finished call's state (the transport
    /// keeps some) may still reach the task, and through it a global model a round old, a model's worth of memory.
    /// </summary>
    public void ReleaseModels()
    {
        _parameters = null;
        _expected = null;
    }

    /// <summary>Bounds on the example counts the result may report (the plan's <c>failure</c> section).</summary>
    public ResultLimits Limits { get; init; } = ResultLimits.Default;

    /// <summary>Time the node has before the server counts the task as failed.</summary>
    public required TimeSpan Timeout { get; init; }

    /// <summary>How long the node may be offline before the task fails (the plan's <c>failure.offline_grace</c>); null waits for <see cref="Timeout"/>.</summary>
    public TimeSpan? OfflineGrace { get; init; }

    /// <summary>When the node was lost (went offline or restarted) while the task was open; null while it is connected.</summary>
    public DateTimeOffset? LostAt { get; set; }

    /// <summary>When the node took the task.</summary>
    public DateTimeOffset? DeliveredAt { get; set; }

    /// <summary>Completes when the result, a rejection or a failure is known.</summary>
    public TaskCompletionSource<TaskOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Phase name as stored ("fit", "evaluate", "get_parameters").</summary>
    public string Phase => Kind.ToPhaseText();
}

/// <summary>How a task ended: a result, or a failure with its <see cref="FailureKind"/> and a message for people.</summary>
internal sealed record TaskOutcome(
    bool Ok, string? Error, long Examples, double Loss, Metrics Metrics, ParameterSet? Parameters,
    double DurationSeconds, long UploadBytes)
{
    /// <summary>The exception behind an <see cref="FailureKind.Internal"/> failure (a defect in Cohort, logged with its stack trace); null otherwise.</summary>
    public Exception? Fault { get; init; }

    /// <summary>Why the task failed; null when it succeeded.</summary>
    public FailureKind? Failure { get; init; }

    /// <summary>A validate task's findings: each problem the node's app found with the run's settings on its data.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>A large fit result received to a file instead of memory (then <see cref="Parameters"/> is null); whoever uses it disposes it.</summary>
    public SpooledParameters? Spooled { get; init; }

    /// <summary>The result's parameters in memory: those received to memory, or the spooled ones read in (and their file released).</summary>
    public ParameterSet? LoadParameters()
    {
        if (Spooled is not { } spooled) return Parameters;
        using (spooled) return spooled.Load();
    }

    /// <summary>A failure of a kind, with a reason.</summary>
    public static TaskOutcome Failed(FailureKind kind, string reason, double durationSeconds = 0, long uploadBytes = 0) =>
        new(false, reason, 0, double.NaN, Records.Metrics.Empty, null, durationSeconds, uploadBytes) { Failure = kind };

    /// <summary>A successful fit: parameters, examples and metrics.</summary>
    public static TaskOutcome Fitted(ParameterSet parameters, long examples, Metrics metrics, double durationSeconds, long uploadBytes) =>
        new(true, null, examples, double.NaN, metrics, parameters, durationSeconds, uploadBytes);

    /// <summary>A successful evaluation: loss, examples and metrics.</summary>
    public static TaskOutcome Evaluated(double loss, long examples, Metrics metrics, double durationSeconds) =>
        new(true, null, examples, loss, metrics, null, durationSeconds, 0);
}
