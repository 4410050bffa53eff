using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Clients;

/// <summary>What running a <see cref="ClientTask"/> gave: a result, or a failure of a <see cref="FailureKind"/> with a message.</summary>
internal sealed record ClientReply
{
    /// <summary>True for a result, false for a failure.</summary>
    public required bool Ok { get; init; }

    /// <summary>Why it failed; null for a result.</summary>
    public FailureKind? Failure { get; init; }

    /// <summary>The failure's message for people; null for a result.</summary>
    public string? Error { get; init; }

    /// <summary>Returned parameters (fit, get-parameters).</summary>
    public ParameterSet? Parameters { get; init; }

    /// <summary>Examples trained or evaluated on.</summary>
    public long Examples { get; init; }

    /// <summary>Evaluation loss; NaN for other kinds.</summary>
    public double Loss { get; init; } = double.NaN;

    /// <summary>The exception behind an <see cref="FailureKind.Internal"/> failure, for the log of whoever runs the task; null otherwise.</summary>
    public Exception? Fault { get; init; }

    /// <summary>The exception the app threw for a <see cref="FailureKind.ClientError"/> failure, for the node's log (its stack trace
    /// is what the app's author needs); it never leaves the node. Null otherwise.</summary>
    public Exception? AppFault { get; init; }

    /// <summary>Metrics the app reported.</summary>
    public Metrics Metrics { get; init; } = Metrics.Empty;

    /// <summary>A fit result.</summary>
    public static ClientReply Fitted(FitResult fit) => new() { Ok = true, Parameters = fit.Parameters, Examples = fit.Examples, Metrics = fit.Metrics };

    /// <summary>An evaluation result.</summary>
    public static ClientReply Evaluated(EvaluateResult e) => new() { Ok = true, Loss = e.Loss, Examples = e.Examples, Metrics = e.Metrics };

    /// <summary>The app's parameters.</summary>
    public static ClientReply Initial(ParameterSet parameters) => new() { Ok = true, Parameters = parameters };

    /// <summary>Statistics of the local data (the statistics step).</summary>
    public static ClientReply Summarized(StatisticsResult s) => new() { Ok = true, Examples = s.Examples, Metrics = s.Metrics };

    /// <summary>A defect in Cohort's own code around the app: <see cref="FailureKind.Internal"/>, with the exception kept for the log.</summary>
    public static ClientReply Broken(Exception fault) =>
        new() { Ok = false, Failure = FailureKind.Internal, Error = $"internal error: {fault.GetType().Name}: {fault.Message}", Fault = fault };

    /// <summary>A failure of a kind, with a message.</summary>
    public static ClientReply Failed(FailureKind kind, string error) => new() { Ok = false, Failure = kind, Error = error };

    /// <summary>
    /// The app threw: a <see cref="FailureKind.ClientError"/> with what of the exception's message may leave the
    /// site (<see cref="SiteDataException.Shareable"/>), the exception kept for the node's log.
    /// </summary>
    public static ClientReply AppFailed(Exception e) => new() { Ok = false, Failure = FailureKind.ClientError, Error = SiteDataException.Shareable(e), AppFault = e };
}
