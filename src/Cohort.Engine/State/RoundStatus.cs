namespace Cohort.Engine.State;

/// <summary>How a round ended; stored and shown as the text <see cref="StatusText"/> gives.</summary>
public enum RoundStatus
{
    /// <summary>Aggregated and saved.</summary>
    Done,

    /// <summary>Too few usable results; <see cref="RoundRecord.Error"/> says why.</summary>
    Failed,
}
