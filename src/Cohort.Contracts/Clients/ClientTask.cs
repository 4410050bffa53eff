using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Clients;

/// <summary>One task as a client app's side sees it, whoever delivered it (a server over gRPC, an in-process pool, a simulation).</summary>
/// <param name="RunId">Run the task belongs to.</param>
/// <param name="Node">Node (or virtual client) that runs it.</param>
/// <param name="Round">Round number (0 for the initial get-parameters task).</param>
/// <param name="Kind">Fit, evaluate or get-parameters.</param>
/// <param name="Config">The task's config as the app reads it (training settings, the plan's <c>config</c> entries).</param>
/// <param name="Parameters">Parameters sent with the task; null for get-parameters.</param>
/// <param name="Expected">Shapes a returned parameter set must have; null accepts any.</param>
/// <param name="Limits">Bounds a returned result must respect; null applies the defaults.</param>
internal sealed record ClientTask(string RunId, string Node, int Round, TaskKind Kind, Config Config, ParameterSet? Parameters, ParameterSet? Expected = null, Apps.ResultLimits? Limits = null)
{
    /// <summary>What Cohort's own client steps act on (local privacy, local tensors); the app does not see it.</summary>
    public TaskSettings Settings { get; init; } = TaskSettings.None;
}
