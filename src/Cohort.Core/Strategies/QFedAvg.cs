using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// q-FedAvg (Li, Sanjabi, Beirami and Smith, 2020, "Fair Resource Allocation in Federated Learning"):
/// nodes with a higher loss F_k weigh more. With Δw_k = L·(w − w_k), Δ_k = F_k^q·Δw_k and
/// h_k = q·F_k^(q−1)·‖Δw_k‖² + L·F_k^q, the new model is w − Σ Δ_k / Σ h_k. F_k is the loss the node
/// reports for the global model before training (metric <c>initial_train_loss</c> by default; the
/// built-in tabular app reports it). q = 0 with L = 1/lr is FedAvg with a unit step. Streams: keeps
/// Σ F_k^q·(w − w_k) and two scalars.
/// </summary>
public sealed class QFedAvg : FedAvg
{
    /// <summary>The registry's entry for q-FedAvg.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "qfedavg", "Li, Sanjabi, Beirami and Smith, 2020: nodes with a higher loss weigh more",
        StrategyCapabilities.SumBased | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy,
        [
            StrategyParameter.Number("q", 0.2, "the fairness exponent (0 weighs nodes equally)", min: 0),
            new StrategyParameter("lipschitz", StrategyParameterType.Number, "1 / train.learning_rate", "L, the Lipschitz constant estimate") { Minimum = 0, MinimumExclusive = true },
            StrategyParameter.Text("loss_metric", "initial_train_loss", "the fit metric holding each node's loss at the global model"),
        ],
        (p, services) => new QFedAvg(p, services));

    /// <summary>Creates q-FedAvg from <c>strategy.params</c>.</summary>
    public QFedAvg(Config parameters, StrategyServices? services = null) : base(services)
    {
        var p = new StrategyParameters("qfedavg", parameters);
        Q = p.Number("q", 0.2, v => v >= 0, "a number >= 0");
        Lipschitz = p.Number("lipschitz", 0, v => v > 0, "a number > 0 (default: 1 / train.learning_rate)");
        LossMetric = p.String("loss_metric", "initial_train_loss");
    }

    /// <summary>q, the fairness exponent (0 weighs nodes equally).</summary>
    public double Q { get; }

    /// <summary>L, the Lipschitz constant estimate; 0 means 1 / the round's learning rate.</summary>
    public double Lipschitz { get; }

    /// <summary>The fit metric holding each node's loss at the global model.</summary>
    public string LossMetric { get; }

    /// <inheritdoc />
    public override string Name => "qfedavg";

    /// <inheritdoc />
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global)
    {
        double l = Lipschitz > 0 ? Lipschitz : 1.0 / round.FitConfig.GetDouble("learning_rate", 0.01);
        return new Aggregation(this, global, l);
    }

    private sealed class Aggregation(QFedAvg owner, ParameterSet global, double lipschitz) : IFitAggregation
    {
        // Σ F^q·(w − w_k) in a reproducible sum; the per-node scalars are summed in node order at the end,
        // so the model does not depend on the order results arrive in.
        private readonly ReproducibleSum _sum = new(global);
        private readonly ParameterSet _difference = global.ZerosLike();
        private readonly WeightedMetrics _metrics = new();
        private readonly List<(string Node, double H)> _h = [];

        public void Add(string node, FitResult result)
        {
            if (!result.Metrics.TryGetValue(owner.LossMetric, out var lossValue) || !lossValue.IsNumber)
                throw new AggregationException($"qfedavg: node '{node}' reported no numeric fit metric '{owner.LossMetric}' (set params.loss_metric to the metric holding the loss at the global model)");
            double loss = Math.Max(lossValue.AsDouble(), 1e-10);
            if (!double.IsFinite(loss)) throw new AggregationException($"qfedavg: node '{node}' reported {owner.LossMetric} = {lossValue}");
            double fq = Math.Pow(loss, owner.Q);
            double drift = ParameterMath.SquaredDistance(global, result.Parameters);
            // The factor L is applied once at the end.
            ParameterMath.Subtract(global, result.Parameters, _difference);
            _sum.Add(_difference, fq);
            _h.Add((node, owner.Q * Math.Pow(loss, owner.Q - 1) * lipschitz * lipschitz * drift + lipschitz * fq));
            _metrics.Add(result.Metrics, result.Examples);
        }

        public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
        {
            if (_h.Count == 0) throw new AggregationException("no fit results to aggregate");
            _h.Sort((a, b) => string.CompareOrdinal(a.Node, b.Node));
            double h = 0;
            foreach (var (_, term) in _h) h += term;
            var next = global.Clone();
            ParameterMath.AddScaled(next, _sum.ToParameterSet(-lipschitz / h), 1.0);
            return new FitAggregate(next, _metrics.ToMetrics());
        }

        public void Dispose() => _sum.Dispose();
    }
}
