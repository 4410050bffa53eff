namespace Cohort.Clients;

/// <summary>What a task asks of a client app: Cohort's own kind, mapped to the wire's at the Fleet boundary.</summary>
internal enum TaskKind
{
    /// <summary>Train on local data from the sent parameters.</summary>
    Fit,

    /// <summary>Evaluate the sent parameters on local data.</summary>
    Evaluate,

    /// <summary>Return the app's initial parameters.</summary>
    GetParameters,

    /// <summary>Check the run's app settings against the node's data without training (the preflight at submit).</summary>
    Validate,

    /// <summary>Return statistics of the local data for the federated statistics step before round 1.</summary>
    Statistics,
}
