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
            await server.Process.WaitForOutputAsync("plugin:      " + PluginFile + " (strategies: shifted-avg)");
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
    public async Task A_run_interrupted_and_resumed_by_a_server_without_its_plugin_waits_and_finishes_once_the_plugin_is_back()
    {
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-plugin-resume-" + Guid.NewGuid().ToString("N")[..8]);
        int port = TestServer.FreePort();
        // The server kills itself while aggregating round 2 of 4.
        var server = await ServerProcess.StartInAsync(dataDir, port, new Dictionary<string, string> { ["COHORT_TEST_CRASH_AT"] = "aggregate:2" }, "--plugin", PluginFile);
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var (site, step) in new[] { ("site1", "1"), ("site2", "3") })
                nodes.Add(server.StartNode(site, await server.Control.CreateNodeTokenAsync(site, default), "counting", "--plugin", PluginFile, "--set", $"step={step}"));
            await server.WaitForNodesAsync(2, nodes);
            var run = await server.Control.SubmitAsync(Plan.Replace("rounds: 2", "rounds: 4"), "plugin.yaml", default);
            await server.WaitForExitAsync(TimeSpan.FromSeconds(120));

            server = await ServerProcess.StartInAsync(dataDir, port);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            Cohort.Transport.V1.RunDetail detail;
            while (!(detail = await server.Control.GetAsync(run.Id, default)).Events.Any(e => e.Contains("run.cannot_resume", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, "no run.cannot_resume event from the server without the plugin");
                await Task.Delay(100);
            }
            Assert.Equal("running", detail.Run.Status);
            Assert.Contains(detail.Events, e => e.Contains("unknown strategy 'shifted-avg'", StringComparison.Ordinal) && e.Contains("--plugin", StringComparison.Ordinal));
            await server.KillAsync();

            server = await ServerProcess.StartInAsync(dataDir, port, "--plugin", PluginFile);
            detail = await server.WaitForRunAsync(run.Id);
            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            Assert.Equal([2.5, 5.0, 7.5, 10.0], detail.Rounds.Select(r => r.Loss));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            await server.DisposeAsync();
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
        Assert.Contains($"cohort: --plugin {PluginFile}: given twice", output);

        // The same assembly copied elsewhere is another plugin declaring the same names.
        string copy = Path.Combine(Path.GetTempPath(), "cohort-plugin-copy-" + Guid.NewGuid().ToString("N")[..8], "Cohort.TestPlugin.dll");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        File.Copy(PluginFile, copy);
        (code, output) = await CliProcess.RunAsync(["strategies", "list", "--plugin", PluginFile, "--plugin", copy]);
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

            // The plugin's own app, simulated: three clients add 1 each round (mean 1), the strategy 0.5 more.
            (code, output) = await CliProcess.RunAsync(["simulate", plan, "--data-dir", Path.Combine(dir, "state3"), "--plugin", PluginFile,
                "--set", "app={name: counting}", "--set", "selection.fraction_evaluate=1.0", "--set", "selection.min_evaluate=3"]);
            Assert.True(code == 0, output);
            Assert.Contains("round   2/2  loss 3.000", output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
