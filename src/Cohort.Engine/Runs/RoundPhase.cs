namespace Cohort.Engine.Runs;

/// <summary>The consecutive parts of a synchronous round, as timed in <see cref="RoundPhaseTimer"/>.</summary>
internal enum RoundPhase
{
    /// <summary>Waiting until <c>selection.min_available</c> nodes are online.</summary>
    WaitForNodes,

    /// <summary>The strategy choosing nodes and building fit instructions.</summary>
    Configure,

    /// <summary>From sending fit tasks until the last fit outcome arrives (aggregation and store writes excluded).</summary>
    Fit,

    /// <summary>Folding fit results into the aggregation and completing it.</summary>
    Aggregate,

    /// <summary>Time the round waited for the new global model to be written (the write overlaps evaluation).</summary>
    SaveModel,

    /// <summary>From sending evaluation tasks until the last evaluation outcome arrives (store writes excluded).</summary>
    Evaluate,

    /// <summary>The strategy aggregating the evaluation results.</summary>
    EvaluateAggregate,

    /// <summary>The strategy's central (server-side) evaluation.</summary>
    CentralEvaluate,

    /// <summary>The round's store writes: node results and events (the round record's own write comes after).</summary>
    Persist,
}
