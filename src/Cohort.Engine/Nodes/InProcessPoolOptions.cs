using Cohort.Clients;

namespace Cohort.Engine.Nodes;

/// <summary>How an <see cref="InProcessNodePool"/> behaves.</summary>
internal sealed record InProcessPoolOptions
{
    /// <summary>No per-node delays.</summary>
    public static readonly IReadOnlyDictionary<string, TimeSpan> NoDelays = new Dictionary<string, TimeSpan>();

    /// <summary>Arrival (like real nodes, the default) or submission order (bit-identical reruns).</summary>
    public DeliveryOrder Delivery { get; init; } = DeliveryOrder.Arrival;

    /// <summary>Time added to each fit of a node, standing in for a slower site.</summary>
    public IReadOnlyDictionary<string, TimeSpan> FitDelays { get; init; } = NoDelays;

    /// <summary>Seed local-DP noise from the plan seed, round and node (reproducible; for studies, never deployments).</summary>
    public bool SeededNoise { get; init; }

    /// <summary>The client-task chain; null for <see cref="ClientTaskRunner.InProcess"/>.</summary>
    public ClientTaskRunner? Runner { get; init; }
}
