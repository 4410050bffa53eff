using Cohort.Apps;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Simulation;
using Cohort.Strategies;

namespace Cohort.Engine.Tests;

/// <summary>
/// A plan with <c>personalization:</c> under <c>cohort simulate</c>: virtual clients are created for every
/// task, yet each keeps its own head, and the run gives the very numbers of the same clients run as
/// in-process nodes through the node's client-task chain.
/// </summary>
public sealed class PersonalizationInSimulationTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cohort-engine-{Guid.NewGuid():N}");

    private static Plan Parse(string personalization) => PlanParser.Parse($"""
        name: heads
        app: {"{ name: head }"}
        strategy: {"{ name: fedavg }"}
        rounds: 5
        selection: {"{ min_available: 4, min_fit: 4, fraction_fit: 1.0, fraction_evaluate: 1.0 }"}
        seed: 9
        simulation: {"{ clients: 4, workers: 2, partitioner: iid }"}
        {personalization}
        """, "heads.yaml", StrategyRegistry.CreateDefault());

    private SimulationOptions Options(string name) => new()
    {
        DataDir = Path.Combine(_folder, name),
        PlanSource = "heads.yaml",
        Apps = [new HeadAppFactory()],
    };

    [Fact]
    public async Task A_personalised_plan_runs_as_a_simulation_and_matches_the_in_process_run()
    {
        var plan = Parse("personalization: { local: [head.*] }");
        var simulated = await SimulationRunner.RunAsync(plan, Options("sim"), CancellationToken.None);
        Assert.Equal(RunStatus.Finished, simulated.Run.Status);
        Assert.All(simulated.Rounds, r => Assert.Null(r.Error));

        // The heads never left the clients: the server's copy is still the initial one.
        Assert.Equal([0f, 0f], simulated.Model!["head.weight"].AsFloat32().ToArray());
        // Each client's own head approaches its own target round after round (distance halves each fit).
        Assert.True(simulated.Rounds[^1].Loss < 0.1, $"final distance {simulated.Rounds[^1].Loss}");

        // The same clients on the same partitions as in-process nodes, results in submission order.
        var setup = SimulationRunner.Prepare(plan, Options("sim"));
        var factory = new HeadAppFactory();
        var apps = setup.Names.Select((name, i) => (name, app: factory.Create(new ClientAppContext("r", name, plan.App.Settings, Records.Config.Empty,
            new DataPartition(i, setup.Partitions.Clients, setup.Dataset, setup.Partitions.Of(i)))))).ToDictionary(x => x.name, x => x.app);
        var inProcess = await InProcessRun.RunAsync(plan, new InProcessNodePool("head", apps, new InProcessPoolOptions { Delivery = DeliveryOrder.Submission }), StrategyServices.None);
        Assert.Equal(RunStatus.Finished, inProcess.Run.Status);

        var rounds = await inProcess.Store.ListRoundsAsync(inProcess.Run.Id, CancellationToken.None);
        Assert.Equal(simulated.Rounds.Select(r => r.Loss), rounds.Select(r => r.Loss));
        Assert.Equal(simulated.Rounds.Select(r => r.Metrics["distance"].AsDouble()), rounds.Select(r => r.Metrics["distance"].AsDouble()));
        var model = await inProcess.Models.LoadAsync(inProcess.Run.Id, 5, CancellationToken.None);
        Assert.Equal(simulated.Model!["shared"].Data.ToArray(), model!["shared"].Data.ToArray());
    }

    [Fact]
    public async Task Without_personalisation_one_shared_head_cannot_serve_every_client()
    {
        var simulated = await SimulationRunner.RunAsync(Parse(""), Options("shared"), CancellationToken.None);

        Assert.Equal(RunStatus.Finished, simulated.Run.Status);
        // Targets 1…4: a shared head sits near their mean, a mean distance of about 1 from them.
        Assert.True(simulated.Rounds[^1].Loss > 0.5, $"final distance {simulated.Rounds[^1].Loss}");
    }

    [Fact]
    public async Task A_local_pattern_matching_no_tensor_fails_the_run_naming_the_models_tensors()
    {
        var simulated = await SimulationRunner.RunAsync(Parse("personalization: { local: [haed.*] }"), Options("typo"), CancellationToken.None);

        Assert.Equal(RunStatus.Failed, simulated.Run.Status);
        Assert.StartsWith("personalization.local: 'haed.*' matches none of the model's tensors (", simulated.Run.Error, StringComparison.Ordinal);
        Assert.Contains("head.weight", simulated.Run.Error, StringComparison.Ordinal);
        Assert.EndsWith("so nothing would stay local", simulated.Run.Error, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
