using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Models;

/// <summary>Where the global model of every round of every run is kept (round 0 is the initial model).</summary>
internal interface IModelStore
{
    /// <summary>Saves a round's global model.</summary>
    Task SaveAsync(string runId, int round, ParameterSet parameters, CancellationToken ct);

    /// <summary>Loads a round's global model, or null when none was saved.</summary>
    Task<ParameterSet?> LoadAsync(string runId, int round, CancellationToken ct);

    /// <summary>Saves a stateful strategy's state after a round, beside that round's model.</summary>
    Task SaveCheckpointAsync(string runId, int round, StrategyCheckpoint checkpoint, CancellationToken ct);

    /// <summary>Loads the strategy state saved after a round, or null when none was saved; throws <see cref="InvalidDataException"/> when it is corrupt.</summary>
    Task<StrategyCheckpoint?> LoadCheckpointAsync(string runId, int round, CancellationToken ct);

    /// <summary>Saves the app settings the run's statistics step produced (they give the model's features their meaning, and a resumed run reuses them).</summary>
    Task SaveStatisticsAsync(string runId, Config statistics, CancellationToken ct);

    /// <summary>Loads what <see cref="SaveStatisticsAsync"/> saved, or null; throws <see cref="InvalidDataException"/> when it is corrupt.</summary>
    Task<Config?> LoadStatisticsAsync(string runId, CancellationToken ct);

    /// <summary>The highest round with a saved model, or -1.</summary>
    int LatestRound(string runId);
}
