namespace Cohort.Clients;

/// <summary>Why a task failed; metrics and retries read this, never the message, so messages may be reworded freely.</summary>
public enum FailureKind
{
    /// <summary>Not one of the kinds below.</summary>
    Other,

    /// <summary>No answer within the round timeout.</summary>
    Timeout,

    /// <summary>The node stopped heartbeating while the task was open.</summary>
    Offline,

    /// <summary>The node registered again while working on the task (its work is lost).</summary>
    NodeRestarted,

    /// <summary>The client app failed (threw, or the node reported an error).</summary>
    ClientError,

    /// <summary>The result arrived but is unusable: wrong shapes, non-finite values, impossible counts.</summary>
    Rejected,

    /// <summary>The node cannot take the task at all (unknown node, another app).</summary>
    Refused,

    /// <summary>The run was stopped.</summary>
    Stopped,

    /// <summary>The task was withdrawn: the run finished without it, its round closed without it (<c>selection.accept_first</c>), or the pool shut down.</summary>
    Cancelled,

    /// <summary>The task could not be sent to its node.</summary>
    Undeliverable,

    /// <summary>The node refused the task under its site's policy (a strategy, app, limit or submitter the site does not accept); it refuses the whole run.</summary>
    SitePolicy,

    /// <summary>Cohort's own code failed around the app (a defect, not the site's): logged with its stack trace where it happened.</summary>
    Internal,
}
