using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>
/// A strategy and a client app from a plugin assembly (tests/plugins/TestPlugin) loaded with --plugin
/// into real <c>cohort server</c> and <c>cohort node</c> processes.
/// </summary>
public sealed class PluginTests
{
    // The plugin's own output folder, as a user would point at it; the test project builds it without referencing it.
    private static readonly string PluginFile = Path.Combine(Repo.Root, "tests", "plugins", "TestPlugin",
        Path.GetRelativePath(Path.Combine(Repo.Root, "tests", "Cohort.Integration.Tests"), AppContext.BaseDirectory), "Cohort.TestPlugin.dll");

    private const string Plan = """
        name: plugin-test
        app: { name: counting }
        strategy: { name: shifted-avg, params: { shift: 0.5 } }
        rounds: 2
        selection: { min_available: 2, min_fit: 2, min_evaluate: 2, fraction_fit: 1.0, fraction_evaluate: 1.0 }
        round_timeout: 60s
        wait_for_nodes: 60s
        """;

    [Fact]
    public async Task A_run_uses_the_plugins_strategy_on_nodes_running_the_plugins_app()
    {
        Assert.True(File.Exists(PluginFile), $"test plugin not built: {PluginFile}");
        await using var server = await ServerProcess.StartAsync("--plugin", PluginFile);
        var nodes = new List<CliProcess>();
        try
        {
            Assert.Contains("plugin:      " + PluginFile + " (strategies: shifted-avg)", server.Process.Output);
            foreach (var (site, step) in new[] { ("site1", "1"), ("site2", "3") })
                nodes.Add(server.StartNode(site, await server.Control.CreateNodeTokenAsync(site, default), "counting", "--plugin", PluginFile, "--set", $"step={step}"));
            await server.WaitForNodesAsync(2, nodes);

            var run = await server.Control.SubmitAsync(Plan, "plugin.yaml", default);
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.True(detail.Run.Status == "finished", detail.Run.Error + "\n" + string.Join("\n", nodes.Select(n => n.Output)));
            // w starts at 0; each round the nodes add 1 and 3 (mean 2) and the plugin strategy adds 0.5.
            Assert.Equal([2.5, 5.0], detail.Rounds.Select(r => r.Loss));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Without_the_plugin_a_plan_naming_its_strategy_is_refused()
    {
        // A plan only names what the process registered; it never makes the server load anything.
        await using var server = await ServerProcess.StartAsync();
        var e = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(Plan, "plugin.yaml", default));
        Assert.Contains("strategy.name: unknown strategy 'shifted-avg' (allowed: bulyan,", e.Message);
    }

    [Fact]
    public async Task A_missing_file_or_an_assembly_without_extensions_stops_the_process_with_the_reason()
    {
        var (code, output) = await CliProcess.RunAsync(["server", "--port", "0", "--data-dir", Path.Combine(Path.GetTempPath(), "cohort-plugin-" + Guid.NewGuid().ToString("N")[..8]), "--plugin", "no-such-plugin.dll"]);
        Assert.Equal(1, code);
        Assert.Contains("cohort: --plugin no-such-plugin.dll: file not found", output);

        // Cohort.Learning is a real .NET assembly with no strategy provider or app factory in it.
        string learning = Path.Combine(AppContext.BaseDirectory, "Cohort.Learning.dll");
        (code, output) = await CliProcess.RunAsync(["node", "--server", "https://127.0.0.1:1", "--name", "n", "--token", "t", "--app", "counting", "--plugin", learning]);
        Assert.Equal(1, code);
        Assert.Contains($"cohort: --plugin {learning}: no public type implements IStrategyProvider or IClientAppFactory", output);
    }

    [Fact]
    public async Task The_same_names_twice_are_refused_naming_both_origins()
    {
        var (code, output) = await CliProcess.RunAsync(["strategies", "list", "--plugin", PluginFile, "--plugin", PluginFile]);
        Assert.Equal(1, code);
        Assert.Contains("strategy 'shifted-avg' from plugin Cohort.TestPlugin.dll clashes with strategy 'shifted-avg' from plugin Cohort.TestPlugin.dll", output);
    }

    [Fact]
    public async Task A_simulation_runs_the_plugins_strategy()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-plugin-sim-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            string plan = Path.Combine(dir, "plan.yaml");
            await File.WriteAllTextAsync(plan, """
                name: plugin-simulation
                app: { name: empty, settings: { values: 3 } }
                strategy: { name: shifted-avg, params: { shift: 0.5 } }
                rounds: 2
                selection: { min_available: 3, min_fit: 3, fraction_evaluate: 0.0 }
                simulation: { clients: 3, data: { examples: 30 } }
                """);
            var (code, output) = await CliProcess.RunAsync(["simulate", plan, "--data-dir", Path.Combine(dir, "state"), "--quiet", "--plugin", PluginFile]);
            Assert.True(code == 0, output);
            Assert.Contains("finished", output);

            (code, output) = await CliProcess.RunAsync(["simulate", plan, "--data-dir", Path.Combine(dir, "state2"), "--quiet"]);
            Assert.Equal(1, code);
            Assert.Contains("unknown strategy 'shifted-avg'", output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
