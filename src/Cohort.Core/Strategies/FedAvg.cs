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

    /// <summary>The registry's entry for FedAvg.</summary>
    public static StrategyDescriptor Descriptor { get; } = new(
        "fedavg", "McMahan et al., 2017: the example-weighted mean of the nodes' models",
        StrategyCapabilities.SumBased | StrategyCapabilities.Asynchronous | StrategyCapabilities.SecureAggregation | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy,
        [], (_, services) => new FedAvg(services));

    /// <summary>Creates FedAvg.</summary>
    public FedAvg(StrategyServices? services = null)
    {
        _services = services ?? StrategyServices.None;
    }

    /// <summary>Memory this strategy may hold in pending results to fold them in batches (see <see cref="StrategyServices"/>).</summary>
    protected long AggregationBufferBytes => _services.AggregationBufferBytes;

    /// <summary>What the server offered this strategy.</summary>
    internal StrategyServices Services => _services;

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
    public virtual IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) =>
        new WeightedAverage(global, _services.AggregationBufferBytes) { SpoolHoldBytes = _services.SpoolHoldBytes };

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
    /// Streaming example-weighted mean: Σ nᵢ·xᵢ accumulated in a <see cref="ReproducibleSum"/>, divided
    /// by Σ nᵢ at the end, so the model is bit-identical whatever order the results arrive in and however
    /// they are batched. Integer tensors (counters) take the value of the result from the node whose id
    /// sorts first (ordinal), for the same reason. With a pending budget, results wait (up to that many
    /// bytes) and are folded several at a time, one block of the accumulator after another, so the
    /// accumulator is read and written once per batch instead of once per result; with none, each result
    /// is folded as it arrives. A result received to a file (<see cref="ISpooledFitAggregation"/>) is held
    /// there, up to <see cref="SpoolHoldBytes"/> of files, and folded when the round completes, segment
    /// by segment of the accumulator as the mean is read out, so the accumulator is never resident whole;
    /// past that budget a spooled result is folded from its file as it arrives.
    /// </summary>
    public sealed class WeightedAverage : IFitAggregation, ISpooledFitAggregation
    {
        private readonly ParameterSet _template;
        private readonly ReproducibleSum _sum;
        private readonly WeightedMetrics _metrics = new();
        private readonly long _pendingBudget;
        private readonly long _modelBytes;
        private readonly List<(ParameterSet Parameters, double Examples)> _pending = [];
        private readonly List<(SpooledParameters Terms, double Weight)> _held = [];
        private long _heldBytes;
        private int _foldedOnArrival;
        private ParameterSet? _integers;
        private string? _integersFrom;
        private long _totalExamples;
        private int _results;

        /// <summary>Starts an average shaped like <paramref name="template"/>; <paramref name="pendingBudgetBytes"/> bounds the results held for batched folding (0 folds each at once).</summary>
        public WeightedAverage(ParameterSet template, long pendingBudgetBytes = 0)
        {
            _template = template;
            _sum = new ReproducibleSum(template);
            _modelBytes = template.ByteCount;
            _pendingBudget = pendingBudgetBytes;
        }

        /// <summary>False when the sum left its exact range (see <see cref="ReproducibleSum.Exact"/>).</summary>
        public bool Exact => _sum.Exact;

        /// <summary>Disk the spooled results held until the round completes may take together (0: each is folded as it arrives).</summary>
        internal long SpoolHoldBytes { get; set; }

        /// <summary>Spooled results held so far, to be folded when the round completes.</summary>
        internal int Held => _held.Count;

        /// <inheritdoc />
        int ISpooledFitAggregation.FoldedOnArrival => _foldedOnArrival;

        /// <inheritdoc />
        public void Add(string node, FitResult result)
        {
            if (result.Examples <= 0) throw new AggregationException($"node '{node}' reported {result.Examples} training examples");
            _totalExamples = checked(_totalExamples + result.Examples);
            _metrics.Add(result.Metrics, result.Examples);
            _results++;
            TakeIntegers(node, result.Parameters);
            _pending.Add((result.Parameters, result.Examples));
            if ((_pending.Count + 1) * _modelBytes > _pendingBudget) Flush();
        }

        /// <inheritdoc />
        void ISpooledFitAggregation.Add(string node, SpooledParameters parameters, long examples, Metrics metrics)
        {
            var owned = parameters;
            try
            {
                if (examples <= 0) throw new AggregationException($"node '{node}' reported {examples} training examples");
                // Checked and read before anything is committed: a file that fails here leaves the aggregate as it was.
                _sum.CheckShape(parameters);
                var integers = IntegersFrom(node, parameters.LoadTensor);
                bool hold = _heldBytes + parameters.ByteCount <= SpoolHoldBytes;
                // Held, the file stays on disk and is folded at Complete with the accumulator's segments written one
                // at a time; past the budget, folded now block by block, which writes the whole accumulator.
                if (hold) _sum.Check(parameters, examples);
                else _sum.Add(parameters, examples);
                _totalExamples = checked(_totalExamples + examples);
                _metrics.Add(metrics, examples);
                _results++;
                if (integers is not null) (_integers, _integersFrom) = (integers, node);
                if (hold)
                {
                    _held.Add((parameters, examples));
                    _heldBytes += parameters.ByteCount;
                    owned = null;
                }
                else _foldedOnArrival++;
            }
            finally
            {
                owned?.Dispose();
            }
        }

        /// <inheritdoc />
        public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
        {
            if (_results == 0) throw new AggregationException("no fit results to aggregate");
            Flush();
            // The accumulator is freed as the mean is read out of it: the two are never held whole together. Held
            // results are folded into it segment by segment on the way, so it is not even resident whole.
            var mean = _sum.ToParameterSet(1.0 / _totalExamples, _held);
            ReleaseHeld();
            for (int i = 0; i < mean.Count; i++)
            {
                if (!ParameterMath.IsFloat(mean[i].DType)) _integers![i].Data.CopyTo(mean[i].Data, 0);
            }
            return new FitAggregate(mean, _metrics.ToMetrics());
        }

        /// <summary>
        /// Completes the average into <paramref name="sink"/> block by block instead of a new model (float
        /// tensors only: the integer tensors are left to the sink's owner); returns the metrics.
        /// </summary>
        internal Metrics CompleteInto(IReadOnlyList<NodeFailure> failures, IMeanBlockSink sink)
        {
            if (_results == 0) throw new AggregationException("no fit results to aggregate");
            Flush();
            _sum.ReadOutInto(1.0 / _totalExamples, _held, sink);
            ReleaseHeld();
            return _metrics.ToMetrics();
        }

        private void TakeIntegers(string node, ParameterSet parameters)
        {
            if (IntegersFrom(node, i => parameters[i].Clone()) is { } integers) (_integers, _integersFrom) = (integers, node);
        }

        // The integer tensors of a result from `node` when its id sorts before the one they were taken from so far (null: keep those).
        private ParameterSet? IntegersFrom(string node, Func<int, Parameters.Tensor> tensor)
        {
            if (_integersFrom is not null && string.CompareOrdinal(node, _integersFrom) >= 0) return null;
            bool any = false;
            for (int i = 0; i < _template.Count && !any; i++) any = !ParameterMath.IsFloat(_template[i].DType);
            if (!any) return null;
            return new ParameterSet(Enumerable.Range(0, _template.Count).Select(i =>
                ParameterMath.IsFloat(_template[i].DType) ? _template[i] : tensor(i)).ToArray());
        }

        // Closes and deletes the held files.
        private void ReleaseHeld()
        {
            foreach (var (x, _) in _held) x.Dispose();
            _held.Clear();
            _heldBytes = 0;
        }

        private void Flush()
        {
            if (_pending.Count == 0) return;
            _sum.AddRange(_pending);
            _pending.Clear();
        }

        /// <inheritdoc />
        public void Dispose()
        {
            _pending.Clear();
            ReleaseHeld();
            _sum.Dispose();
        }
    }
}
