using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Strategies;

namespace Cohort.TestPlugin;

/// <summary>FedAvg, then every weight moved by <c>shift</c>: a strategy whose effect a test can see in the model.</summary>
public sealed class ShiftedAverage(double shift, StrategyServices services) : FedAvg(services)
{
    /// <inheritdoc />
    public override string Name => "shifted-avg";

    /// <inheritdoc />
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) =>
        new Shifted(base.BeginAggregateFit(round, global), (float)shift);

    private sealed class Shifted(IFitAggregation inner, float shift) : IFitAggregation
    {
        public void Add(string node, FitResult result) => inner.Add(node, result);

        public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
        {
            var aggregate = inner.Complete(failures);
            foreach (var t in aggregate.Parameters)
            {
                var values = t.AsFloat32();
                for (int i = 0; i < values.Length; i++) values[i] += shift;
            }
            return aggregate;
        }

        public void Dispose() => inner.Dispose();
    }
}

/// <summary>The plugin's strategies, found by <c>--plugin</c>.</summary>
public sealed class TestStrategies : IStrategyProvider
{
    /// <inheritdoc />
    public IReadOnlyList<StrategyDescriptor> Strategies { get; } =
    [
        new("shifted-avg", "FedAvg, then every weight moved by shift (test plugin)", StrategyCapabilities.SumBased,
            [StrategyParameter.Number("shift", 0, "added to every weight after averaging")],
            (p, services) => new ShiftedAverage(p.GetDouble("shift", 0), services)),
    ];
}
