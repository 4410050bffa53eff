namespace Cohort.Engine.Runs;

/// <summary>Where a running run is: its round and phase, for status displays. Immutable: a new one is published at each change.</summary>
internal sealed record RoundProgress(string RunId, int Round, ProgressPhase Phase, int Expected, int Received)
{
    /// <summary>Why the run is waiting for nodes, with the counts; null while it is not waiting.</summary>
    public string? WaitingReason { get; init; }
}
