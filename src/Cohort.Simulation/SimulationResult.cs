using Cohort.Engine.State;
using Cohort.Parameters;

namespace Cohort.Simulation;

/// <summary>What a simulation did: the run as stored, its rounds, and the final global model.</summary>
/// <param name="Run">The run record (status finished, failed or stopped).</param>
/// <param name="Rounds">The rounds as stored.</param>
/// <param name="Model">The last global model, or null when no round finished.</param>
/// <param name="ModelPath">Where the model store keeps it.</param>
/// <param name="Clients">Virtual clients.</param>
/// <param name="PeakRunning">Most clients that held a live app at once.</param>
/// <param name="PartitionBytes">Bytes the partition index sets take.</param>
public sealed record SimulationResult(RunRecord Run, IReadOnlyList<RoundRecord> Rounds, ParameterSet? Model, string? ModelPath, int Clients, int PeakRunning, long PartitionBytes);
