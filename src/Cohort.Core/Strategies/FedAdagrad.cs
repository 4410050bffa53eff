using System.Numerics.Tensors;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>FedAdagrad (Reddi et al., 2021, "Adaptive Federated Optimization"): v ← v + Δ² (β₂ unused).</summary>
public sealed class FedAdagrad(Config parameters, StrategyServices? services = null) : FedOpt("fedadagrad", parameters, services, 0.01)
{
    /// <summary>The registry's entry for FedAdagrad.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "fedadagrad", "Reddi et al., 2021: server-side Adagrad on the pseudo-gradient", Capabilities, Parameters(usesBeta2: false), (p, services) => new FedAdagrad(p, services));

    /// <inheritdoc />
    public override string Name => "fedadagrad";

    /// <inheritdoc />
    protected override void UpdateSecondMoment<T>(Span<T> v, Span<T> deltaSquared) => TensorPrimitives.Add<T>(v, deltaSquared, v);
}
