using System.Security.Cryptography;
using System.Text;
using Cohort.Audit;
using Cohort.Engine.State;
using Cohort.Records;

namespace Cohort.Server.Audit;

/// <summary>Ledger entries about runs, the same from the Control API and the dashboard.</summary>
internal static class RunAudit
{
    /// <summary>A submitted run, with the SHA-256 of its plan as submitted.</summary>
    public static AuditEvent Submitted(RunRecord run, string actor, string source) =>
        new(AuditKinds.RunSubmitted, actor,
            $"run '{run.Name}' submitted{(string.IsNullOrEmpty(source) ? "" : $" from {source}")}: app {run.App}, strategy {run.Strategy}, {Counted.Of(run.RoundsPlanned, "round")}")
        {
            Run = run.Id,
            Digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(run.PlanYaml))),
        };
}
