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

    // The last checkpoint handed out, which shares the moments' buffers (copies would be two more models at
    // the end of every round); the next step copies the moments first unless it has been written out.
    private StrategyCheckpoint? _lent;

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

    /// <summary>
    /// Applies the step to <paramref name="global"/> in place, block by block as the mean is read out: the
    /// aggregate is <paramref name="global"/> itself, so the server holds the global model and the two
    /// moments at the end of the round, not the model before and after as well.
    /// </summary>
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) =>
        new PseudoGradientAggregation(global, new AdaptiveStep(this, global), AggregationBufferBytes) { SpoolHoldBytes = Services.SpoolHoldBytes };

    /// <inheritdoc />
    public StrategyCheckpoint Save()
    {
        // Shares the moments' buffers; they are copied before the next step changes them unless the
        // checkpoint was written out by then (StrategyCheckpoint.MarkWritten).
        var checkpoint = new StrategyCheckpoint(Name, new ParameterSet(Shared(_m, "m/").Concat(Shared(_v, "v/"))), Config.Empty);
        _lent = checkpoint;
        return checkpoint;
    }

    /// <inheritdoc />
    public void Restore(StrategyCheckpoint checkpoint)
    {
        checkpoint.RequireStrategy(Name);
        _m = checkpoint.Section("m/");
        _v = checkpoint.Section("v/");
        _lent = null;
    }

    private static IEnumerable<Parameters.Tensor> Shared(ParameterSet? set, string prefix) =>
        set?.Select(t => new Parameters.Tensor(prefix + t.Name, t.DType, (int[])t.Shape.Clone(), t.Data)) ?? [];

    // The moments the round's step will change: fresh ones at the first round, and copies when a checkpoint
    // that is still to be read shares their buffers (taken when the aggregation begins, after the last
    // round's checkpoint was written).
    private (ParameterSet M, ParameterSet V) MomentsFor(ParameterSet global)
    {
        bool copy = _lent is { Written: false };
        _m = _m is null ? global.ZerosLike() : copy ? _m.Clone() : _m;
        _v = _v is null ? global.ZerosLike() : copy ? _v.Clone() : _v;
        _lent = null;
        return (_m, _v);
    }

    // Δ = mean − x, then m ← β₁·m + (1 − β₁)·Δ, v ← (per variant) and x ← x + η·m / (√v + τ), in place over
    // the global model's float tensors; its integer tensors stay as they are. The same operations, element
    // by element, as over whole tensors.
    private sealed class AdaptiveStep : IMeanBlockSink
    {
        private readonly FedOpt _owner;
        private readonly ParameterSet _global;
        private ParameterSet _m;
        private ParameterSet _v;

        public AdaptiveStep(FedOpt owner, ParameterSet global)
        {
            (_owner, _global) = (owner, global);
            (_m, _v) = owner.MomentsFor(global);
        }

        public void Block<T>(int tensor, int start, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>, IRootFunctions<T>
        {
            // A checkpoint saved since the aggregation began shares the moments too.
            if (_owner._lent is not null) (_m, _v) = _owner.MomentsFor(_global);
            var x = ParameterMath.View<T>(_global[tensor]).Slice(start, d.Length);
            var m = ParameterMath.View<T>(_m[tensor]).Slice(start, d.Length);
            var v = ParameterMath.View<T>(_v[tensor]).Slice(start, d.Length);
            T b1 = T.CreateChecked(_owner.Beta1);
            TensorPrimitives.Subtract<T>(d, x, d);
            // m ← β₁·m + (1 − β₁)·Δ
            TensorPrimitives.Multiply<T>(m, b1, m);
            TensorPrimitives.MultiplyAdd<T>(d, T.One - b1, m, m);
            // Δ is no longer needed after m: reuse its buffer for Δ², then for the step.
            TensorPrimitives.Multiply<T>(d, d, d);
            _owner.UpdateSecondMoment(v, d);
            TensorPrimitives.Sqrt<T>(v, d);
            TensorPrimitives.Add<T>(d, T.CreateChecked(_owner.Tau), d);
            TensorPrimitives.Divide<T>(m, d, d);
            TensorPrimitives.MultiplyAdd<T>(d, T.CreateChecked(_owner.LearningRate), x, x);
        }
    }
}
