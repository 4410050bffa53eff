namespace Cohort.Engine.Runs;

/// <summary>The latest <see cref="RoundProgress"/> of each running run, read-only: the executor publishes, displays read.</summary>
internal interface IRunProgress
{
    /// <summary>The latest progress of <paramref name="runId"/>; null when it is not running (or has not published yet).</summary>
    RoundProgress? Of(string runId);

    /// <summary>An immutable snapshot of every running run's progress, by run id.</summary>
    IReadOnlyDictionary<string, RoundProgress> All { get; }
}
