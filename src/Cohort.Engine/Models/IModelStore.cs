using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Models;

/// <summary>Where the global model of every round of every run is kept (round 0 is the initial model).</summary>
internal interface IModelStore
{
    /// <summary>
    /// Saves a round's global model. On return it is in place under its name, which a crash of the process keeps; a store
    /// that flushes to disk may still be flushing it (<see cref="FlushAsync"/>), and waits for that before its next save
    /// of the run.
    /// </summary>
    Task SaveAsync(string runId, int round, ParameterSet parameters, CancellationToken ct);

    /// <summary>Completes once every model and strategy state saved for the run is on disk; throws a flush's error.</summary>
    Task FlushAsync(string runId);

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

    /// <summary>
    /// Keeps a fit result accepted in <paramref name="round"/> under <paramref name="key"/> (a node name, or an
    /// arrival number for FedBuff) until the round completes, so a restarted server folds it in again.
    /// </summary>
    Task SaveRoundResultAsync(string runId, int round, string key, KeptResult result, CancellationToken ct);

    /// <summary>
    /// The results kept for <paramref name="round"/>, in key order, and a line for each kept result that could
    /// not be read (that node is asked again).
    /// </summary>
    Task<(IReadOnlyList<KeptResult> Results, IReadOnlyList<string> Problems)> LoadRoundResultsAsync(string runId, int round, CancellationToken ct);

    /// <summary>Deletes the results kept for every round of the run except <paramref name="keepRound"/> (-1: all of them).</summary>
    Task DiscardRoundResultsAsync(string runId, int keepRound, CancellationToken ct);

    /// <summary>Lets go of what the store keeps ready for the run's next saves (spare files), once the run has stopped.</summary>
    Task CloseRunAsync(string runId);

    /// <summary>The highest round with a saved model, or -1.</summary>
    int LatestRound(string runId);
}
