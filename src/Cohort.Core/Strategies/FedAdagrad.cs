using System.Numerics.Tensors;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>FedAdagrad (Reddi et al., 2021, "Adaptive Federated Optimization"): v ← v + Δ² (β₂ unused).</summary>
public sealed class FedAdagrad(Config parameters, StrategyServices? services = null) : FedOpt("fedadagrad", parameters, services, 0.01)
{
    /// <inheritdoc />
    public override string Name => "fedadagrad";

    /// <inheritdoc />
    protected override void UpdateSecondMoment<T>(Span<T> v, Span<T> deltaSquared) => TensorPrimitives.Add<T>(v, deltaSquared, v);
}
