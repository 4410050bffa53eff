using System.Numerics;
using System.Numerics.Tensors;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// FedAvg with server momentum (Hsu, Qi and Brown, 2019, "Measuring the Effects of Non-Identical Data
/// Distribution for Federated Visual Classification"): with pseudo-gradient g = global − average,
/// v ← β·v + g and global ← global − η·v. Streams like FedAvg; keeps one momentum buffer.
/// </summary>
public sealed class FedAvgM : FedAvg, IStatefulStrategy
{
    /// <summary>The registry's entry for FedAvgM.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "fedavgm", "Hsu, Qi and Brown, 2019: FedAvg with server momentum",
        StrategyCapabilities.SumBased | StrategyCapabilities.Stateful | StrategyCapabilities.SecureAggregation | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy,
        [
            StrategyParameter.Number("server_learning_rate", 1.0, "η, the server learning rate", min: 0, minExclusive: true),
            StrategyParameter.Number("server_momentum", 0.9, "β, the server momentum", min: 0, max: 1, maxExclusive: true),
        ],
        (p, services) => new FedAvgM(p, services));

    private ParameterSet? _velocity;

    // The last checkpoint handed out, which shares the velocity's buffers (a copy would be one more model at
    // the end of every round); the next step copies the velocity first unless it has been written out.
    private StrategyCheckpoint? _lent;

    /// <summary>Creates FedAvgM from <c>strategy.params</c>.</summary>
    public FedAvgM(Config parameters, StrategyServices? services = null) : base(services)
    {
        var p = new StrategyParameters("fedavgm", parameters);
        LearningRate = p.Number("server_learning_rate", 1.0, v => v > 0, "a number > 0");
        Momentum = p.Number("server_momentum", 0.9, v => v >= 0 && v < 1, "a number in [0, 1)");
    }

    /// <summary>η, the server learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>β, the server momentum.</summary>
    public double Momentum { get; }

    /// <inheritdoc />
    public override string Name => "fedavgm";

    /// <summary>
    /// Applies the step to <paramref name="global"/> in place, block by block as the mean is read out: the
    /// aggregate is <paramref name="global"/> itself, so the server holds the global model and the velocity
    /// at the end of the round, not the model before and after as well.
    /// </summary>
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) =>
        new PseudoGradientAggregation(global, new MomentumStep(this, global), AggregationBufferBytes) { SpoolHoldBytes = Services.SpoolHoldBytes };

    /// <inheritdoc />
    public StrategyCheckpoint Save()
    {
        // Shares the velocity's buffers; they are copied before the next step changes them unless the
        // checkpoint was written out by then (StrategyCheckpoint.MarkWritten).
        var checkpoint = new StrategyCheckpoint(Name, new ParameterSet(
            _velocity?.Select(t => new Parameters.Tensor("velocity/" + t.Name, t.DType, (int[])t.Shape.Clone(), t.Data)) ?? []), Config.Empty);
        _lent = checkpoint;
        return checkpoint;
    }

    /// <inheritdoc />
    public void Restore(StrategyCheckpoint checkpoint)
    {
        checkpoint.RequireStrategy(Name);
        _velocity = checkpoint.Section("velocity/");
        _lent = null;
    }

    // The velocity the round's step will change: a fresh one at the first round, and a copy when a checkpoint
    // that is still to be read shares its buffers (taken when the aggregation begins, after the last round's
    // checkpoint was written).
    private ParameterSet VelocityFor(ParameterSet global)
    {
        if (_velocity is null) _velocity = global.ZerosLike();
        else if (_lent is { Written: false }) _velocity = _velocity.Clone();
        _lent = null;
        return _velocity;
    }

    // g = −Δ with Δ = mean − x, so v ← β·v − Δ and x ← x − η·v, in place over the global model's float tensors;
    // its integer tensors stay as they are. The same operations, element by element, as over whole tensors.
    private sealed class MomentumStep(FedAvgM owner, ParameterSet global) : IMeanBlockSink
    {
        private ParameterSet _velocity = owner.VelocityFor(global);

        public void Block<T>(int tensor, int start, Span<T> mean) where T : unmanaged, IFloatingPointIeee754<T>, IRootFunctions<T>
        {
            // A checkpoint saved since the aggregation began shares the velocity too.
            if (owner._lent is not null) _velocity = owner.VelocityFor(global);
            var x = ParameterMath.View<T>(global[tensor]).Slice(start, mean.Length);
            var v = ParameterMath.View<T>(_velocity[tensor]).Slice(start, mean.Length);
            TensorPrimitives.Subtract<T>(mean, x, mean);
            TensorPrimitives.Multiply<T>(v, T.CreateChecked(owner.Momentum), v);
            TensorPrimitives.Subtract<T>(v, mean, v);
            TensorPrimitives.MultiplyAdd<T>(v, T.CreateChecked(-owner.LearningRate), x, x);
        }
    }
}
