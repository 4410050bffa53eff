using Cohort.Clients;
using Wire = Cohort.Transport.V1.TaskKind;

namespace Cohort.Server.Fleet;

/// <summary>Maps the engine's task kinds to the Fleet protocol's, at the one place they meet.</summary>
internal static class TaskKinds
{
    /// <summary>The protocol's kind for an engine task kind.</summary>
    public static Wire ToWire(Clients.TaskKind kind) => kind switch
    {
        Clients.TaskKind.Fit => Wire.Fit,
        Clients.TaskKind.Evaluate => Wire.Evaluate,
        Clients.TaskKind.GetParameters => Wire.GetParameters,
        Clients.TaskKind.Validate => Wire.Validate,
        Clients.TaskKind.Statistics => Wire.Statistics,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no protocol task kind"),
    };
}
