using Cohort.Apps.Tabular;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Apps.Tests;

/// <summary>Runs a plan in-process: one TabularApp per hospital, FedAvg on the server side, round by round.</summary>
internal static class FederatedSimulation
{
    public sealed record Outcome(ParameterSet Global, IReadOnlyDictionary<string, EvaluateResult> PerNode)
    {
        public double MeanAccuracy => PerNode.Values.Average(r => r.Metrics["accuracy"].AsDouble());
    }

    public static async Task<Outcome> RunAsync(Plan plan, IReadOnlyDictionary<string, TabularApp> apps, IStrategy? strategy = null)
    {
        strategy ??= new FedAvg();
        var nodes = apps.Keys.ToArray();
        var global = strategy.InitializeParameters() ?? await apps[nodes[0]].GetParametersAsync(plan.EvaluateConfig(0), CancellationToken.None);
        var selection = new Selection(nodes.Length, nodes.Length, nodes.Length, 1.0, 1.0);
        var random = new Random((int)plan.Seed);

        for (int round = 1; round <= plan.Rounds; round++)
        {
            var context = new RoundContext("sim", round, plan.Rounds, selection, plan.FitConfig(round), plan.EvaluateConfig(round), random);
            using var aggregation = strategy.BeginAggregateFit(context, global);
            foreach (var task in strategy.ConfigureFit(context, global, nodes))
                aggregation.Add(task.Node, await apps[task.Node].FitAsync(task.Parameters, task.Config, CancellationToken.None));
            global = aggregation.Complete([]).Parameters;
        }

        var perNode = new Dictionary<string, EvaluateResult>();
        foreach (var node in nodes)
            perNode[node] = await apps[node].EvaluateAsync(global, plan.EvaluateConfig(plan.Rounds), CancellationToken.None);
        return new Outcome(global, perNode);
    }

    public static Dictionary<string, TabularApp> CreateApps(Plan plan) =>
        HeartDiseasePlan.Hospitals.ToDictionary(h => h, h => new TabularAppFactory().CreateTabular(HeartDiseasePlan.Context(plan, h)));
}
