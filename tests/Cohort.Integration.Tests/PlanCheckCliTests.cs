using System.Text.Json;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary><c>cohort plan check</c> as a user runs it: no server, a summary for a good plan, every problem with its line for a bad one (as simulate and submit name them).</summary>
public sealed class PlanCheckCliTests
{
    [Fact]
    public async Task Plan_check_summarises_a_good_plan_and_lists_every_mistake_of_a_bad_one_with_its_line()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-plan-check-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            string heart = Path.Combine(Repo.Root, "examples", "heart-disease", "plan.yaml");
            var (code, output) = await CliProcess.RunAsync(["plan", "check", heart, "--set", "strategy.name=fedprox"]);
            Assert.True(code == 0, output);
            Assert.Contains("plan 'heart-disease' is valid", output, StringComparison.Ordinal);
            Assert.Contains("strategy     fedprox: proximal_mu", output, StringComparison.Ordinal);
            Assert.Contains("rounds       15", output, StringComparison.Ordinal);

            string bad = Path.Combine(dir, "bad.yaml");
            await File.WriteAllTextAsync(bad, "name: bad\napp: { name: tabular, settings: { label: num } }\nstrategy: { name: fedavg }\nround: 3\ntrain:\n  optimizer: adamw\n");
            (code, output) = await CliProcess.RunAsync(["plan", "check", bad]);
            Assert.Equal(1, code);
            Assert.Contains($"{bad}:4:1: unknown key 'round' in plan (allowed: ", output, StringComparison.Ordinal);
            Assert.Contains("(did you mean 'rounds'?)", output, StringComparison.Ordinal);
            Assert.Contains($"{bad}:6:14: train.optimizer: 'adamw' is not allowed (allowed: sgd, adam)", output, StringComparison.Ordinal);
            Assert.Contains($"{bad}: 2 problems", output, StringComparison.Ordinal);

            (code, output) = await CliProcess.RunAsync(["plan", "check", bad, "--json"]);
            Assert.Equal(1, code);
            using var json = JsonDocument.Parse(output);
            Assert.False(json.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal([4L, 6L], json.RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("line").GetInt64()));

            // The app checks its settings too, without data: a misspelt setting is found here, not by each node at submit.
            string misspelt = Path.Combine(dir, "misspelt.yaml");
            await File.WriteAllTextAsync(misspelt, "name: m\napp:\n  name: tabular\n  settings:\n    label: num\n    standardise: true\nstrategy: { name: fedavg }\n");
            (code, output) = await CliProcess.RunAsync(["plan", "check", misspelt]);
            Assert.Equal(1, code);
            Assert.Contains($"{misspelt}:6:5: app.settings: app setting 'standardise' is not known (did you mean 'standardize'?)", output, StringComparison.Ordinal);

            // ... and beside the plan's own problems, all in one go.
            string both = Path.Combine(dir, "both.yaml");
            await File.WriteAllTextAsync(both, "name: b\napp:\n  name: tabular\n  settings:\n    lable: num\nstrategy: { name: fedavg }\nround: 3\n");
            (code, output) = await CliProcess.RunAsync(["plan", "check", both]);
            Assert.Equal(1, code);
            Assert.Contains($"{both}:5:5: app.settings: app setting 'label' is missing (required: the label column); is 'lable' a misspelling of it?", output, StringComparison.Ordinal);
            Assert.Contains($"{both}:7:1: unknown key 'round' in plan", output, StringComparison.Ordinal);
            Assert.Contains($"{both}: 2 problems", output, StringComparison.Ordinal);

            // simulate and a server's submit name every problem too, each on a line of its own.
            (code, output) = await CliProcess.RunAsync(["simulate", bad]);
            Assert.Equal(1, code);
            Assert.Contains($"cohort: {bad}:4:1: unknown key 'round'", output, StringComparison.Ordinal);
            Assert.Contains($"cohort: {bad}:6:14: train.optimizer:", output, StringComparison.Ordinal);
            await using var server = await TestServer.StartAsync();
            var refused = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(File.ReadAllText(bad), "bad.yaml", default));
            var lines = refused.Message.Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("bad.yaml:4:1: unknown key 'round'", lines[0], StringComparison.Ordinal);
            Assert.StartsWith("bad.yaml:6:14: train.optimizer:", lines[1], StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Plan_check_and_simulate_refuse_a_selection_minimum_above_the_simulations_clients_at_once()
    {
        string heart = Path.Combine(Repo.Root, "examples", "heart-disease", "plan.yaml");

        var (code, output) = await CliProcess.RunAsync(["plan", "check", heart, "--set", "selection.min_fit=10"]);
        Assert.Equal(1, code);
        Assert.Contains("--set selection.min_fit=10: selection.min_fit: 10 is more than the simulation's 4 clients (simulation.clients); no round could ever start", output, StringComparison.Ordinal);

        // simulate says the same before loading any data, instead of waiting out wait_for_nodes (5 minutes) for clients that cannot come.
        string state = Path.Combine(Path.GetTempPath(), "cohort-sim-min-fit-" + Guid.NewGuid().ToString("N")[..8]);
        (code, output) = await CliProcess.RunAsync(["simulate", heart, "--set", "selection.min_fit=10", "--set", "rounds=2", "--data-dir", state], TimeSpan.FromSeconds(60));
        Assert.Equal(1, code);
        Assert.Contains("cohort: --set selection.min_fit=10: selection.min_fit: 10 is more than the simulation's 4 clients (simulation.clients); no round could ever start", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(state));
    }
}
