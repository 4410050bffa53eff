using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// SCAFFOLD (Karimireddy et al., 2020, "SCAFFOLD: Stochastic Controlled Averaging for Federated
/// Learning"): the server keeps a control variate c and sends it with the model; each node corrects
/// every local gradient by c − cᵢ, then updates its own cᵢ (option II: cᵢ⁺ = cᵢ − c + (x − yᵢ)/(K·η_l))
/// and returns yᵢ with Δcᵢ = cᵢ⁺ − cᵢ (see <see cref="ScaffoldTensors"/>). The server moves
/// x ← x + η_g·(weighted mean of yᵢ − x) and c ← c + |S|/N·mean Δcᵢ. Streams: keeps the model sum,
/// the Δc sum and c. The node keeps cᵢ between rounds; the built-in tabular app does.
/// </summary>
public sealed class Scaffold : FedAvg, IStatefulStrategy
{
    /// <summary>The registry's entry for SCAFFOLD: its control variates cover the whole model, so neither personalisation nor privacy wraps it.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "scaffold", "Karimireddy et al., 2020: control variates correct each node's drift",
        StrategyCapabilities.SumBased | StrategyCapabilities.Stateful | StrategyCapabilities.SecureAggregation,
        [StrategyParameter.Number("server_learning_rate", 1.0, "η_g, the server learning rate", min: 0, minExclusive: true)],
        (p, services) => new Scaffold(p, services));

    private ParameterSet? _control;
    private int _totalNodes = 1;

    /// <summary>Creates SCAFFOLD from <c>strategy.params</c>.</summary>
    public Scaffold(Config parameters, StrategyServices? services = null) : base(services)
    {
        LearningRate = new StrategyParameters("scaffold", parameters).Number("server_learning_rate", 1.0, v => v > 0, "a number > 0");
    }

    /// <summary>η_g, the server learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>The server control variate (null before the first round).</summary>
    public ParameterSet? Control => _control;

    /// <inheritdoc />
    public override string Name => "scaffold";

    /// <inheritdoc />
    public override IReadOnlyList<NodeInstruction> ConfigureFit(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes)
    {
        _control ??= new ParameterSet(global.Where(t => ParameterMath.IsFloat(t.DType)).Select(t => Tensor.Zeros(t.Name, t.DType, (int[])t.Shape.Clone())));
        _totalNodes = Math.Max(1, availableNodes.Count);
        var sent = new ParameterSet(global.Concat(ScaffoldTensors.Prefixed(_control.Clone(), ScaffoldTensors.ServerControlPrefix)));
        var expected = ScaffoldTensors.Result(global, _control);
        return base.ConfigureFit(round, global, availableNodes)
            .Select(i => i with { Parameters = sent, ExpectedResult = expected })
            .ToArray();
    }

    /// <inheritdoc />
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global)
    {
        _control ??= new ParameterSet(global.Where(t => ParameterMath.IsFloat(t.DType)).Select(t => Tensor.Zeros(t.Name, t.DType, (int[])t.Shape.Clone())));
        return new Aggregation(this, global);
    }

    /// <inheritdoc />
    public StrategyCheckpoint Save() =>
        new(Name, new ParameterSet(StrategyCheckpoint.Prefixed(_control, "control/")), new Config([KeyValuePair.Create("total_nodes", Scalar.Of((long)_totalNodes))]));

    /// <inheritdoc />
    public void Restore(StrategyCheckpoint checkpoint)
    {
        checkpoint.RequireStrategy(Name);
        _control = checkpoint.Section("control/");
        _totalNodes = (int)checkpoint.Values.GetInt("total_nodes", 1);
    }

    private sealed class Aggregation(Scaffold owner, ParameterSet global) : IFitAggregation
    {
        private readonly FedAvg.WeightedAverage _model = new(global);
        private readonly ReproducibleSum _deltaSum = new(owner._control!);
        private readonly int _controls = owner._control!.Count;
        private int _results;

        public void Add(string node, FitResult result)
        {
            if (result.Parameters.Count != global.Count + _controls)
                throw new AggregationException($"scaffold: node '{node}' returned {result.Parameters.Count} tensors, expected the model's {global.Count} and {_controls} control-variate changes (does its app support SCAFFOLD?)");
            // The weighted average reads the first global.Count tensors: the model.
            _model.Add(node, result);
            var delta = new ParameterSet(result.Parameters.Skip(global.Count));
            _deltaSum.Add(delta, 1.0);
            _results++;
        }

        public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
        {
            var average = _model.Complete(failures);
            var next = global.Clone();
            // x ← x + η_g·(ȳ − x)
            var step = average.Parameters;
            ParameterMath.Subtract(step, global, step);
            ParameterMath.AddScaled(next, step, owner.LearningRate);
            // c ← c + (|S|/N)·(1/|S|)·ΣΔcᵢ = c + ΣΔcᵢ / N
            ParameterMath.AddScaled(owner._control!, _deltaSum.ToParameterSet(1.0 / Math.Max(owner._totalNodes, _results)), 1.0);
            return new FitAggregate(next, average.Metrics);
        }

        public void Dispose()
        {
            _model.Dispose();
            _deltaSum.Dispose();
        }
    }
}
