namespace Cohort.Engine.Runs;

/// <summary>What a running run is doing now, as published in <see cref="RoundProgress"/>; shown as the text <see cref="State.StatusText"/> gives.</summary>
internal enum ProgressPhase
{
    /// <summary>Fewer eligible nodes are connected than the run needs; <see cref="RoundProgress.WaitingReason"/> says why.</summary>
    WaitingForNodes,

    /// <summary>Enough nodes are connected; the round is about to send its tasks.</summary>
    Starting,

    /// <summary>The federated statistics step before round 1.</summary>
    Statistics,

    /// <summary>Fit tasks are out.</summary>
    Fit,

    /// <summary>Evaluation tasks are out.</summary>
    Evaluate,

    /// <summary>FedBuff: updates are arriving into the buffer of the next model version.</summary>
    Buffering,
}
