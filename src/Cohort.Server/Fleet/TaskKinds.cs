using Wire = Cohort.Transport.V1.TaskKind;

namespace Cohort.Server.Fleet;

/// <summary>Maps the engine's task kinds to the Fleet protocol's, at the one place they meet.</summary>
public static class TaskKinds
{
    /// <summary>The protocol's kind for an engine task kind.</summary>
    public static Wire ToWire(Engine.Nodes.TaskKind kind) => kind switch
    {
        Engine.Nodes.TaskKind.Fit => Wire.Fit,
        Engine.Nodes.TaskKind.Evaluate => Wire.Evaluate,
        Engine.Nodes.TaskKind.GetParameters => Wire.GetParameters,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no protocol task kind"),
    };
}
