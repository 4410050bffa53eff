using Cohort.Apps;
using Cohort.Plans;

namespace Cohort.Simulation;

/// <summary>
/// The same app and network trained on one client's data alone, round for round with the plan's
/// training settings and initial model, and tested on the data set's central test set: what a site
/// would reach without the federation.
/// </summary>
internal static class SingleClientBaseline
{
    /// <summary>One round of the baseline: the central test loss and accuracy after it.</summary>
    public sealed record Point(int Round, double Loss, double Accuracy);

    /// <summary>Trains client <paramref name="client"/> alone for the plan's rounds; <paramref name="onRound"/> sees each point as it is made.</summary>
    public static async Task<IReadOnlyList<Point>> RunAsync(Plan plan, SimulationRunner.Setup setup, string client, Action<Point>? onRound, CancellationToken ct)
    {
        int index = -1;
        for (int i = 0; i < setup.Names.Count; i++)
            if (setup.Names[i] == client) index = i;
        if (index < 0) throw new ArgumentException($"no client '{client}' (clients: {string.Join(", ", setup.Names.Take(20))})");
        var partition = new DataPartition(index, setup.Partitions.Clients, setup.Dataset, setup.Partitions.Of(index));
        var app = setup.Factory.Create(new ClientAppContext("baseline", client, plan.App.Settings, Records.Config.Empty, partition));
        // The federation's first model comes from a client's GetParameters with round 1's config: start from the same.
        var parameters = await app.GetParametersAsync(plan.FitConfig(1), ct);
        var points = new List<Point>();
        for (int round = 1; round <= plan.Rounds; round++)
        {
            parameters = (await app.FitAsync(parameters, plan.FitConfig(round), ct)).Parameters;
            var e = await setup.Dataset.EvaluateCentralAsync(parameters, plan.EvaluateConfig(round), ct)
                ?? throw new InvalidOperationException($"{setup.Dataset.Description} has no test set to compare on");
            var point = new Point(round, e.Loss, e.Metrics.GetDouble("accuracy", double.NaN));
            points.Add(point);
            onRound?.Invoke(point);
        }
        (app as IDisposable)?.Dispose();
        return points;
    }
}
