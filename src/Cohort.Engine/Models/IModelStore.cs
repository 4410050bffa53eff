using Cohort.Parameters;

namespace Cohort.Engine.Models;

/// <summary>Where the global model of every round of every run is kept (round 0 is the initial model).</summary>
public interface IModelStore
{
    /// <summary>Saves a round's global model.</summary>
    Task SaveAsync(string runId, int round, ParameterSet parameters, CancellationToken ct);

    /// <summary>Loads a round's global model, or null when none was saved.</summary>
    Task<ParameterSet?> LoadAsync(string runId, int round, CancellationToken ct);

    /// <summary>The highest round with a saved model, or -1.</summary>
    int LatestRound(string runId);
}
