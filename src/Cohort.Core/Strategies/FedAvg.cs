using System.Numerics.Tensors;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Federated Averaging (McMahan et al., 2017, "Communication-Efficient Learning of Deep Networks from
/// Decentralized Data"): the new global model is the mean of the nodes' models weighted by their
/// training example counts. Results are folded into running sums as they arrive, so memory stays at
/// one model whatever the number of nodes.
/// </summary>
public class FedAvg : IStrategy
{
    private readonly StrategyServices _services;

    /// <summary>Creates FedAvg.</summary>
    public FedAvg(StrategyServices? services = null)
    {
        _services = services ?? StrategyServices.None;
    }

    /// <inheritdoc />
    public virtual string Name => "fedavg";

    /// <inheritdoc />
    public virtual ParameterSet? InitializeParameters() => _services.InitialParameters;

    /// <inheritdoc />
    public virtual IReadOnlyList<NodeInstruction> ConfigureFit(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes) =>
        NodeSampler.Sample(availableNodes, round.Selection.FractionFit, round.Selection.MinFit, round.Random)
            .Select(n => new NodeInstruction(n, global, round.FitConfig))
            .ToArray();

    /// <inheritdoc />
    public virtual IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) => new WeightedAverage(global);

    /// <inheritdoc />
    public virtual IReadOnlyList<NodeInstruction> ConfigureEvaluate(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes)
    {
        if (round.Selection.FractionEvaluate <= 0) return [];
        return NodeSampler.Sample(availableNodes, round.Selection.FractionEvaluate, round.Selection.MinEvaluate, round.Random)
            .Select(n => new NodeInstruction(n, global, round.EvaluateConfig))
            .ToArray();
    }

    /// <inheritdoc />
    public virtual EvaluateAggregate AggregateEvaluate(RoundContext round, IReadOnlyList<NodeResult<EvaluateResult>> results, IReadOnlyList<NodeFailure> failures)
    {
        long examples = 0;
        double lossSum = 0;
        var metrics = new WeightedMetrics();
        foreach (var r in results)
        {
            // A result on no examples carries no weight; skipping it keeps its (often NaN) loss out of the sum.
            if (r.Result.Examples <= 0) continue;
            examples += r.Result.Examples;
            lossSum += r.Result.Loss * r.Result.Examples;
            metrics.Add(r.Result.Metrics, r.Result.Examples);
        }
        return new EvaluateAggregate(examples > 0 ? lossSum / examples : double.NaN, examples, metrics.ToMetrics());
    }

    /// <inheritdoc />
    public virtual Task<EvaluateResult?> EvaluateCentralAsync(RoundContext round, ParameterSet global, CancellationToken ct) =>
        _services.CentralEvaluator is { } evaluate ? evaluate(round.Round, global, ct) : Task.FromResult<EvaluateResult?>(null);

    /// <summary>
    /// Streaming example-weighted mean: Σ nᵢ·xᵢ accumulated in float32 (float64 tensors in float64),
    /// divided by Σ nᵢ at the end. Integer tensors (counters) take the value of the first result.
    /// </summary>
    public sealed class WeightedAverage : IFitAggregation
    {
        private readonly ParameterSet _sum;
        private readonly WeightedMetrics _metrics = new();
        private double _totalExamples;
        private int _results;

        /// <summary>Starts an average shaped like <paramref name="template"/>.</summary>
        public WeightedAverage(ParameterSet template)
        {
            _sum = template.ZerosLike();
        }

        /// <inheritdoc />
        public void Add(string node, FitResult result)
        {
            if (result.Examples <= 0) throw new AggregationException($"node '{node}' reported {result.Examples} training examples");
            float w = result.Examples;
            for (int i = 0; i < _sum.Count; i++)
            {
                var acc = _sum[i];
                var x = result.Parameters[i];
                switch (acc.DType)
                {
                    case DType.Float32:
                        TensorPrimitives.MultiplyAdd(x.AsFloat32(), w, acc.AsFloat32(), acc.AsFloat32());
                        break;
                    case DType.Float64:
                        TensorPrimitives.MultiplyAdd(x.AsFloat64(), (double)result.Examples, acc.AsFloat64(), acc.AsFloat64());
                        break;
                    default:
                        if (_results == 0) x.Data.CopyTo(acc.Data, 0);
                        break;
                }
            }
            _totalExamples += result.Examples;
            _metrics.Add(result.Metrics, result.Examples);
            _results++;
        }

        /// <inheritdoc />
        public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
        {
            if (_results == 0) throw new AggregationException("no fit results to aggregate");
            foreach (var t in _sum)
            {
                if (t.DType == DType.Float32) TensorPrimitives.Multiply(t.AsFloat32(), (float)(1.0 / _totalExamples), t.AsFloat32());
                else if (t.DType == DType.Float64) TensorPrimitives.Multiply(t.AsFloat64(), 1.0 / _totalExamples, t.AsFloat64());
            }
            return new FitAggregate(_sum, _metrics.ToMetrics());
        }

        /// <inheritdoc />
        public void Dispose() { }
    }
}
