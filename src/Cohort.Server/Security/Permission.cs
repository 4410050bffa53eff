namespace Cohort.Server.Security;

/// <summary>One thing an operator may be allowed to do; <see cref="Permissions"/> maps roles to them.</summary>
internal enum Permission
{
    /// <summary>See runs, their rounds, events and metrics.</summary>
    ReadRuns,

    /// <summary>See nodes and their status.</summary>
    ReadNodes,

    /// <summary>Submit (start) a run.</summary>
    SubmitRun,

    /// <summary>Stop a run.</summary>
    StopRun,

    /// <summary>Download a run's global model.</summary>
    PullModel,

    /// <summary>Enrol nodes: node tokens and node certificates.</summary>
    ManageNodes,

    /// <summary>Named users, their roles, and operator (viewer) tokens.</summary>
    ManageUsers,

    /// <summary>Certificates and their revocation.</summary>
    ManageCertificates,

    /// <summary>Server-side policies.</summary>
    ManagePolicies,

    /// <summary>Read the audit ledger.</summary>
    ReadAudit,
}
