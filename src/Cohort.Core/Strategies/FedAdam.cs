using System.Numerics;
using System.Numerics.Tensors;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>FedAdam (Reddi et al., 2021, "Adaptive Federated Optimization"): v ← β₂·v + (1 − β₂)·Δ².</summary>
public sealed class FedAdam(Config parameters, StrategyServices? services = null) : FedOpt("fedadam", parameters, services, 0.01)
{
    /// <summary>The registry's entry for FedAdam.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "fedadam", "Reddi et al., 2021: server-side Adam on the pseudo-gradient", Capabilities, Parameters(), (p, services) => new FedAdam(p, services));

    /// <inheritdoc />
    public override string Name => "fedadam";

    /// <inheritdoc />
    protected override void UpdateSecondMoment<T>(Span<T> v, Span<T> deltaSquared)
    {
        T b2 = T.CreateChecked(Beta2);
        TensorPrimitives.Multiply<T>(v, b2, v);
        TensorPrimitives.MultiplyAdd<T>(deltaSquared, T.One - b2, v, v);
    }
}
