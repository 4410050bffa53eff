namespace Cohort.Engine.State;

/// <summary>Where a run stands; stored and shown as the text <see cref="StatusText"/> gives.</summary>
public enum RunStatus
{
    /// <summary>Submitted, waiting for its turn.</summary>
    Queued,

    /// <summary>Rounds in progress.</summary>
    Running,

    /// <summary>All rounds done.</summary>
    Finished,

    /// <summary>Stopped by an error; <see cref="RunRecord.Error"/> says why.</summary>
    Failed,

    /// <summary>Stopped by an operator.</summary>
    Stopped,
}
