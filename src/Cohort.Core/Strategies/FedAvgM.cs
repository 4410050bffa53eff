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

    /// <inheritdoc />
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) =>
        new PseudoGradientAggregation(global, Step, AggregationBufferBytes) { SpoolHoldBytes = Services.SpoolHoldBytes };

    /// <inheritdoc />
    public StrategyCheckpoint Save() => new(Name, new ParameterSet(StrategyCheckpoint.Prefixed(_velocity, "velocity/")), Config.Empty);

    /// <inheritdoc />
    public void Restore(StrategyCheckpoint checkpoint)
    {
        checkpoint.RequireStrategy(Name);
        _velocity = checkpoint.Section("velocity/");
    }

    // The new model is written over Δ (ours, and not needed once the velocity has it), not into a copy of the
    // global model: one model less at the end of the round. Integer tensors stay the global model's.
    private ParameterSet Step(ParameterSet global, ParameterSet delta)
    {
        _velocity ??= global.ZerosLike();
        var step = new MomentumStep(global, _velocity, Momentum, LearningRate);
        ParameterMath.ForEachFloat(delta, ref step);
        ParameterMath.CopyIntegers(global, delta);
        return delta;
    }

    private readonly struct MomentumStep(ParameterSet global, ParameterSet velocity, double beta, double eta) : IFloatStep
    {
        public void Apply<T>(int index, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>, IRootFunctions<T>
        {
            var x = ParameterMath.View<T>(global[index]);
            var v = ParameterMath.View<T>(velocity[index]);
            // g = −Δ, so v ← β·v − Δ and x ← x − η·v (into Δ's buffer).
            TensorPrimitives.Multiply<T>(v, T.CreateChecked(beta), v);
            TensorPrimitives.Subtract<T>(v, d, v);
            TensorPrimitives.MultiplyAdd<T>(v, T.CreateChecked(-eta), x, d);
        }
    }
}
