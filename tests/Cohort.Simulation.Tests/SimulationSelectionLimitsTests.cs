using System.Diagnostics;
using Cohort.Cli.Commands;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Simulation.Tests;

/// <summary>A simulation's clients are fixed and known: a selection they can never meet is refused before any data is read, not after wait_for_nodes.</summary>
public sealed class SimulationSelectionLimitsTests
{
    private static Plan Parse(string yaml) => PlanParser.Parse(yaml, "test-plan.yaml", StrategyRegistry.CreateDefault());

    private static SimulationOptions Options(string dir) => new() { DataDir = dir, PlanSource = "test-plan.yaml" };

    [Fact]
    public async Task Simulate_refuses_a_min_fit_set_above_its_clients_at_once_naming_the_option()
    {
        using var dir = new TempDir();
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<PlanException>(() => SimulateCommand.RunAsync(RepositoryPaths.Combine("examples", "heart-disease", "plan.yaml"),
            Path.Combine(dir.Path, "state"), 2, null, TextWriter.Null, CancellationToken.None, set: ["selection.min_fit=10"]));

        Assert.Equal("--set selection.min_fit=10: selection.min_fit: 10 is more than the simulation's 4 clients (simulation.clients); no round could ever start", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.False(File.Exists(Path.Combine(dir.Path, "state", "cohort.db")));
    }

    [Fact]
    public void Every_minimum_the_clients_can_never_meet_is_refused_at_its_place_in_the_plan()
    {
        var plan = Parse("""
            name: x
            app: { name: tabular, settings: { label: y } }
            strategy: { name: fedavg }
            selection:
              min_available: 5
              min_fit: 6
              min_evaluate: 7
            simulation: { clients: 4, data: { synthetic: { rows: 200, features: 3 } } }
            """);

        var e = Assert.Throws<PlanException>(() => SimulationRunner.Prepare(plan, Options(Path.GetTempPath())));

        Assert.Equal(
        [
            "test-plan.yaml:5:18: selection.min_available: 5 is more than the simulation's 4 clients (simulation.clients); no round could ever start",
            "test-plan.yaml:6:12: selection.min_fit: 6 is more than the simulation's 4 clients (simulation.clients); no round could ever start",
            "test-plan.yaml:7:17: selection.min_evaluate: 7 is more than the simulation's 4 clients (simulation.clients); no round could ever have that many evaluation results",
        ], e.Errors.Select(x => x.Message));
    }

    [Fact]
    public void Over_selection_above_what_a_round_samples_of_the_clients_is_refused()
    {
        // fraction_fit 0.5 of 4 clients samples 2 a round: waiting for the first 3 of them could never close a round early.
        var plan = Parse("""
            name: x
            app: { name: tabular, settings: { label: y } }
            strategy: { name: fedavg }
            selection: { min_fit: 2, fraction_fit: 0.5, accept_first: 3 }
            simulation: { clients: 4, data: { synthetic: { rows: 200, features: 3 } } }
            """);

        var e = Assert.Throws<PlanException>(() => SimulationRunner.Prepare(plan, Options(Path.GetTempPath())));

        Assert.Equal("test-plan.yaml:4:59: selection.accept_first: 3 is more than the 2 clients a round samples (fraction_fit 0.5 of the simulation's 4 clients (simulation.clients)); a round could never close early", e.Message);
    }

    [Fact]
    public void Minimums_the_clients_can_meet_pass()
    {
        var plan = Parse("""
            name: x
            app: { name: tabular, settings: { label: y } }
            strategy: { name: fedavg }
            selection: { min_available: 4, min_fit: 4, min_evaluate: 4, fraction_fit: 0.5, accept_first: 4 }
            simulation: { clients: 4, data: { synthetic: { rows: 200, features: 3 } } }
            """);

        Assert.Empty(SimulationSelectionLimits.Problems(plan, "test-plan.yaml"));
    }
}
