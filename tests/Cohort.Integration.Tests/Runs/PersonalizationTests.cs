using Cohort.Apps;
using Cohort.Apps.Tabular;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Learning.Data;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;
using Xunit.Abstractions;

namespace Cohort.Integration.Tests.Runs;

/// <summary>
/// Personalisation and SCAFFOLD through the server's executor with in-process tabular nodes: what a
/// strategy expects back per task differs from the global model.
/// </summary>
public sealed class PersonalizationTests(ITestOutputHelper output) : IDisposable
{
    private const int Features = 6;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cohort-personal-{Guid.NewGuid():N}");

    private static Plan Plan(string personalization) => PlanParser.Parse($"""
        name: personal
        app: {"{ name: tabular }"}
        strategy: {"{ name: fedavg }"}
        rounds: 15
        selection: {"{ min_available: 4, min_fit: 4, min_evaluate: 4, fraction_evaluate: 1.0 }"}
        round_timeout: 30s
        train: {"{ local_steps: 30, batch_size: 16, optimizer: sgd, learning_rate: 0.1 }"}
        seed: 3
        {personalization}
        """, "personal.yaml", StrategyRegistry.CreateDefault());

    [Fact]
    public async Task Local_heads_never_leave_the_nodes_and_each_node_reports_its_personalised_accuracy()
    {
        var shared = await InProcessRun.RunAsync(Plan(""), new InProcessNodePool("tabular", Nodes()), StrategyServices.None, Path.Combine(_folder, "shared"));
        var personal = await InProcessRun.RunAsync(Plan("personalization: { local: [output.*] }"), new InProcessNodePool("tabular", Nodes()), StrategyServices.None, Path.Combine(_folder, "personal"));
        Assert.Equal(RunStatus.Finished, shared.Run.Status);
        Assert.Equal(RunStatus.Finished, personal.Run.Status);

        var sharedAccuracy = await FinalAccuracies(shared);
        var personalAccuracy = await FinalAccuracies(personal);
        foreach (var node in personalAccuracy.Keys)
            output.WriteLine($"{node}: shared model {sharedAccuracy[node]:F3}, personalised {personalAccuracy[node]:F3}");
        // Half the sites label the opposite way: one shared model cannot serve both halves, personal heads can.
        Assert.True(sharedAccuracy.Values.Average() < 0.65, $"shared mean accuracy {sharedAccuracy.Values.Average():F3}");
        Assert.All(personalAccuracy, kv => Assert.True(kv.Value >= 0.75, $"{kv.Key}: personalised accuracy {kv.Value:F3}"));

        // The server's model keeps the heads it started with: no node's trained head reached it.
        var initial = (await personal.Models.LoadAsync(personal.Run.Id, 0, CancellationToken.None))!;
        var final = (await personal.Models.LoadAsync(personal.Run.Id, 15, CancellationToken.None))!;
        Assert.Equal(initial["output.weight"].Data, final["output.weight"].Data);
        Assert.Equal(initial["output.bias"].Data, final["output.bias"].Data);
        Assert.NotEqual(initial["hidden1.weight"].Data, final["hidden1.weight"].Data);
    }

    [Fact]
    public async Task Scaffold_trains_the_heart_disease_federation_with_control_variates_through_the_executor()
    {
        var text = Repo.HeartPlan.Replace("name: fedavg", "name: scaffold", StringComparison.Ordinal);
        var plan = PlanParser.Parse(text, "plan.yaml", StrategyRegistry.CreateDefault());
        var apps = new[] { "cleveland", "hungarian", "switzerland", "va" }.ToDictionary(h => h, h => (IClientApp)new TabularAppFactory().CreateTabular(
            new ClientAppContext("r", h, plan.App.Settings, new Config([KeyValuePair.Create("data", Scalar.Of(Repo.HeartData(h)))]))));

        var outcome = await InProcessRun.RunAsync(plan, new InProcessNodePool("tabular", apps), StrategyServices.None, Path.Combine(_folder, "scaffold"));

        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        var rounds = await outcome.Store.ListRoundsAsync(outcome.Run.Id, CancellationToken.None);
        Assert.All(rounds, r => Assert.Null(r.Error));
        double accuracy = rounds.Single(r => r.Round == 15).Metrics["accuracy"].AsDouble();
        output.WriteLine($"scaffold accuracy over the four test sets after 15 rounds: {accuracy:F4}");
        Assert.True(accuracy >= 0.70, $"accuracy {accuracy:F4}");
    }

    private static async Task<Dictionary<string, double>> FinalAccuracies(InProcessRun.Outcome outcome) =>
        (await outcome.Store.ListNodeResultsAsync(outcome.Run.Id, CancellationToken.None))
            .Where(r => r.Round == 15 && r.Phase == "evaluate" && r.Ok)
            .ToDictionary(r => r.Node, r => r.Metrics["accuracy"].AsDouble());

    /// <summary>Four sites with the same features; sites c and d label the opposite way (a concept shift).</summary>
    private static Dictionary<string, IClientApp> Nodes()
    {
        var settings = TabularSettings.FromConfig(new Config([
            KeyValuePair.Create("columns", Scalar.Of(string.Join(",", Enumerable.Range(0, Features).Select(i => $"x{i}").Append("y")))),
            KeyValuePair.Create("label", Scalar.Of("y")),
            KeyValuePair.Create("header", Scalar.Of(false)),
            KeyValuePair.Create("model", Scalar.Of("mlp")),
            KeyValuePair.Create("hidden", Scalar.Of("8")),
        ]));
        var random = new Random(11);
        var truth = Enumerable.Range(0, Features).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var nodes = new Dictionary<string, IClientApp>(StringComparer.Ordinal);
        foreach (var (name, flipped) in new[] { ("a", false), ("b", false), ("c", true), ("d", true) })
            nodes[name] = new TabularApp(settings, new TabularSplit(Synthesize(random, truth, 300, flipped), Synthesize(random, truth, 500, flipped), false), name);
        return nodes;
    }

    private static TabularDataset Synthesize(Random random, float[] truth, int rows, bool flipped)
    {
        var x = new float[rows * Features];
        var y = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            double logit = 0;
            for (int j = 0; j < Features; j++)
            {
                double v = random.NextDouble() * 4 - 2;
                x[r * Features + j] = (float)v;
                logit += truth[j] * v;
            }
            bool positive = logit > 0;
            y[r] = positive ^ flipped ? 1 : 0;
        }
        return new TabularDataset(x, y, Enumerable.Range(0, Features).Select(i => $"x{i}").ToArray());
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
