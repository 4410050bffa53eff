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
    public virtual IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) => new WeightedAverage(global, _services.AggregationBufferBytes);

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
    /// With a pending budget, results wait (up to that many bytes) and are folded several at a time,
    /// one cache-sized tile of the accumulator after another, so the accumulator is read and written
    /// once per batch instead of once per result; with none, each result is folded as it arrives and
    /// memory stays at one model.
    /// </summary>
    public sealed class WeightedAverage : IFitAggregation
    {
        // 64K floats (256 KiB) of accumulator stay in L2 while every pending update streams through them.
        private const int TileBytes = 256 << 10;
        private readonly ParameterSet _sum;
        private readonly WeightedMetrics _metrics = new();
        private readonly long _pendingBudget;
        private readonly long _modelBytes;
        private readonly List<(ParameterSet Parameters, long Examples)> _pending = [];
        private double _totalExamples;
        private int _results;
        private bool _integersTaken;

        /// <summary>Starts an average shaped like <paramref name="template"/>; <paramref name="pendingBudgetBytes"/> bounds the results held for batched folding (0 folds each at once).</summary>
        public WeightedAverage(ParameterSet template, long pendingBudgetBytes = 0)
        {
            _sum = template.ZerosLike();
            _modelBytes = template.ByteCount;
            _pendingBudget = pendingBudgetBytes;
        }

        /// <inheritdoc />
        public void Add(string node, FitResult result)
        {
            if (result.Examples <= 0) throw new AggregationException($"node '{node}' reported {result.Examples} training examples");
            _totalExamples += result.Examples;
            _metrics.Add(result.Metrics, result.Examples);
            _results++;
            _pending.Add((result.Parameters, result.Examples));
            if ((_pending.Count + 1) * _modelBytes > _pendingBudget) Flush();
        }

        /// <inheritdoc />
        public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
        {
            if (_results == 0) throw new AggregationException("no fit results to aggregate");
            Flush();
            foreach (var t in _sum)
            {
                if (t.DType == DType.Float32) TensorPrimitives.Multiply(t.AsFloat32(), (float)(1.0 / _totalExamples), t.AsFloat32());
                else if (t.DType == DType.Float64) TensorPrimitives.Multiply(t.AsFloat64(), 1.0 / _totalExamples, t.AsFloat64());
            }
            return new FitAggregate(_sum, _metrics.ToMetrics());
        }

        private void Flush()
        {
            if (_pending.Count == 0) return;
            for (int i = 0; i < _sum.Count; i++)
            {
                var acc = _sum[i];
                switch (acc.DType)
                {
                    case DType.Float32:
                        FoldTiled(acc.AsFloat32(), i, static (t) => t.AsFloat32());
                        break;
                    case DType.Float64:
                        FoldTiled(acc.AsFloat64(), i, static (t) => t.AsFloat64());
                        break;
                    default:
                        if (!_integersTaken) _pending[0].Parameters[i].Data.CopyTo(acc.Data, 0);
                        break;
                }
            }
            _integersTaken = true;
            _pending.Clear();
        }

        private delegate Span<T> View<T>(Parameters.Tensor t);

        private void FoldTiled<T>(Span<T> acc, int tensor, View<T> view)
            where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            if (_pending.Count == 1)
            {
                TensorPrimitives.MultiplyAdd(view(_pending[0].Parameters[tensor]), T.CreateChecked(_pending[0].Examples), acc, acc);
                return;
            }
            int tile = TileBytes / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            for (int start = 0; start < acc.Length; start += tile)
            {
                int n = Math.Min(tile, acc.Length - start);
                var a = acc.Slice(start, n);
                foreach (var (parameters, examples) in _pending)
                    TensorPrimitives.MultiplyAdd(view(parameters[tensor]).Slice(start, n), T.CreateChecked(examples), a, a);
            }
        }

        /// <inheritdoc />
        public void Dispose() => _pending.Clear();
    }
}
