using Cohort.Cli.Commands;
using Cohort.Plans;

namespace Cohort.Simulation.Tests;

/// <summary><c>cohort simulate</c> checks the plan's app settings on its data before round 1, as a server's nodes do at submit.</summary>
public sealed class SimulationPreflightTests
{
    [Fact]
    public async Task Simulate_reports_every_settings_and_data_problem_before_any_round()
    {
        using var dir = new TempDir();
        string plan = Path.Combine(dir.Path, "plan.yaml");
        string example = await File.ReadAllTextAsync(RepositoryPaths.Combine("examples", "fraud", "plan.yaml"));
        // bank_b's copy calls its label column 'fraud': a problem of that file only.
        string bankB = Path.Combine(dir.Path, "bank_b.csv");
        var lines = await File.ReadAllLinesAsync(RepositoryPaths.Combine("examples", "fraud", "data", "bank_b.csv"));
        lines[0] = lines[0].Replace("is_fraud", "fraud", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(bankB, lines);
        string files = RepositoryPaths.Combine("examples", "fraud", "data", "bank_a.csv") + "," + bankB;
        await File.WriteAllTextAsync(plan, PlanText.WithValues(example,
        [
            ("app.settings.class_wieght", "balanced"),
            ("simulation.partitioner.params.names", "bank_a,bank_b"),
            ("simulation.clients", "2"),
            ("selection.min_available", "2"),
            ("selection.min_fit", "2"),
            ("selection.min_evaluate", "2"),
            ("simulation.data.files", files),
        ]));

        var e = await Assert.ThrowsAsync<PlanException>(() => SimulateCommand.RunAsync(plan, Path.Combine(dir.Path, "state"), null, null, TextWriter.Null, CancellationToken.None));

        // The settings problem is the same for every file, so it is listed once; a file's own problem is named with its file.
        // The data is the user's own here: the problem is told once, with the file's columns, not in a server's words as well.
        Assert.True(e.Problem.StartsWith(
            "preflight failed: app setting 'class_wieght' is not known (did you mean 'class_weight'?); bank_b.csv: no column 'is_fraud' (label); columns: amount, hour, merchant",
            StringComparison.Ordinal), e.Problem);
        Assert.DoesNotContain("their names stay in the site's log", e.Problem);
        Assert.DoesNotContain("bank_a.csv", e.Problem);
        Assert.False(File.Exists(Path.Combine(dir.Path, "state", "cohort.db")));
    }
}
