using System.Numerics;
using System.Numerics.Tensors;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// FedYogi (Reddi et al., 2021, "Adaptive Federated Optimization", after Zaheer et al.'s Yogi):
/// v ← v − (1 − β₂)·Δ²·sign(v − Δ²), so v grows and shrinks additively rather than by decay.
/// </summary>
public sealed class FedYogi(Config parameters, StrategyServices? services = null) : FedOpt("fedyogi", parameters, services, 0.01)
{
    /// <summary>The registry's entry for FedYogi.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "fedyogi", "Reddi et al., 2021: server-side Yogi on the pseudo-gradient", Capabilities, Parameters(), (p, services) => new FedYogi(p, services));

    /// <inheritdoc />
    public override string Name => "fedyogi";

    /// <inheritdoc />
    protected override void UpdateSecondMoment<T>(Span<T> v, Span<T> deltaSquared)
    {
        // Δ²·sign(v − Δ²) = copysign(Δ², v − Δ²) since Δ² ≥ 0 (it differs only where v = Δ² exactly,
        // where the term's sign does not matter to the bound the paper proves).
        int n = v.Length;
        T scale = T.One - T.CreateChecked(Beta2);
        const int Block = 1024;
        Span<T> diff = stackalloc T[Math.Min(Block, Math.Max(n, 1))];
        for (int i = 0; i < n; i += Block)
        {
            int len = Math.Min(Block, n - i);
            var vs = v.Slice(i, len);
            var ds = deltaSquared.Slice(i, len);
            var s = diff[..len];
            TensorPrimitives.Subtract<T>(vs, ds, s);
            TensorPrimitives.CopySign<T>(ds, s, s);
            TensorPrimitives.MultiplyAdd<T>(s, -scale, vs, vs);
        }
    }
}
