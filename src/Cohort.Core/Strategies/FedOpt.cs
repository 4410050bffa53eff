using System.Numerics;
using System.Numerics.Tensors;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// The FedOpt family (Reddi et al., 2021, "Adaptive Federated Optimization", Algorithm 2): the
/// pseudo-gradient Δ = average − global drives a server-side adaptive optimiser,
/// m ← β₁·m + (1 − β₁)·Δ, v ← (per variant), global ← global + η·m / (√v + τ).
/// No bias correction, as in the paper. Streams like FedAvg; keeps two model-sized state buffers.
/// </summary>
public abstract class FedOpt : FedAvg, IStatefulStrategy
{
    /// <summary>What the family's registry entries declare.</summary>
    internal const StrategyCapabilities Capabilities =
        StrategyCapabilities.SumBased | StrategyCapabilities.Stateful | StrategyCapabilities.SecureAggregation | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy;

    /// <summary>The parameters the family takes; <paramref name="usesBeta2"/> is false for FedAdagrad.</summary>
    internal static StrategyParameter[] Parameters(bool usesBeta2 = true) =>
    [
        StrategyParameter.Number("server_learning_rate", 0.01, "η, the server learning rate", min: 0, minExclusive: true),
        StrategyParameter.Number("beta_1", 0.9, "β₁, the first-moment decay", min: 0, max: 1, maxExclusive: true),
        StrategyParameter.Number("beta_2", 0.99, usesBeta2 ? "β₂, the second-moment decay" : "unused (accepted for plans shared with fedadam)", min: 0, max: 1, maxExclusive: true),
        StrategyParameter.Number("tau", 1e-3, "τ, the adaptivity floor", min: 0, minExclusive: true),
    ];

    private ParameterSet? _m;
    private ParameterSet? _v;

    /// <summary>Reads η, β₁, β₂ and τ.</summary>
    protected FedOpt(string name, Config parameters, StrategyServices? services, double defaultLearningRate) : base(services)
    {
        var p = new StrategyParameters(name, parameters);
        LearningRate = p.Number("server_learning_rate", defaultLearningRate, v => v > 0, "a number > 0");
        Beta1 = p.Number("beta_1", 0.9, v => v >= 0 && v < 1, "a number in [0, 1)");
        Beta2 = p.Number("beta_2", 0.99, v => v >= 0 && v < 1, "a number in [0, 1)");
        Tau = p.Number("tau", 1e-3, v => v > 0, "a number > 0");
    }

    /// <summary>η, the server learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>β₁, the first-moment decay.</summary>
    public double Beta1 { get; }

    /// <summary>β₂, the second-moment decay (unused by FedAdagrad).</summary>
    public double Beta2 { get; }

    /// <summary>τ, the adaptivity floor added to √v.</summary>
    public double Tau { get; }

    /// <summary>Updates the second moment <paramref name="v"/> from Δ² (<paramref name="deltaSquared"/>, which may be overwritten).</summary>
    protected abstract void UpdateSecondMoment<T>(Span<T> v, Span<T> deltaSquared) where T : unmanaged, IFloatingPointIeee754<T>, IRootFunctions<T>;

    /// <inheritdoc />
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) =>
        new PseudoGradientAggregation(global, Step, AggregationBufferBytes) { SpoolHoldBytes = Services.SpoolHoldBytes };

    /// <inheritdoc />
    public StrategyCheckpoint Save() =>
        new(Name, new ParameterSet(StrategyCheckpoint.Prefixed(_m, "m/").Concat(StrategyCheckpoint.Prefixed(_v, "v/"))), Config.Empty);

    /// <inheritdoc />
    public void Restore(StrategyCheckpoint checkpoint)
    {
        checkpoint.RequireStrategy(Name);
        _m = checkpoint.Section("m/");
        _v = checkpoint.Section("v/");
    }

    // The new model is written over Δ (ours, and reused for the step anyway), not into a copy of the global
    // model: one model less at the end of the round. Integer tensors stay the global model's.
    private ParameterSet Step(ParameterSet global, ParameterSet delta)
    {
        _m ??= global.ZerosLike();
        _v ??= global.ZerosLike();
        var step = new AdaptiveStep(this, global, _m, _v);
        ParameterMath.ForEachFloat(delta, ref step);
        ParameterMath.CopyIntegers(global, delta);
        return delta;
    }

    private readonly struct AdaptiveStep(FedOpt owner, ParameterSet global, ParameterSet moment1, ParameterSet moment2) : IFloatStep
    {
        public void Apply<T>(int index, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>, IRootFunctions<T>
        {
            var x = ParameterMath.View<T>(global[index]);
            var m = ParameterMath.View<T>(moment1[index]);
            var v = ParameterMath.View<T>(moment2[index]);
            T b1 = T.CreateChecked(owner.Beta1);
            // m ← β₁·m + (1 − β₁)·Δ
            TensorPrimitives.Multiply<T>(m, b1, m);
            TensorPrimitives.MultiplyAdd<T>(d, T.One - b1, m, m);
            // Δ is no longer needed after m: reuse its buffer for Δ², then for the step.
            TensorPrimitives.Multiply<T>(d, d, d);
            owner.UpdateSecondMoment(v, d);
            TensorPrimitives.Sqrt<T>(v, d);
            TensorPrimitives.Add<T>(d, T.CreateChecked(owner.Tau), d);
            TensorPrimitives.Divide<T>(m, d, d);
            TensorPrimitives.MultiplyAdd<T>(d, T.CreateChecked(owner.LearningRate), x, d);
        }
    }
}
