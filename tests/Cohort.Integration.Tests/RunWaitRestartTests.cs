using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>`cohort run wait` (and `run submit --wait`) ride out a server restart: the run resumes, and so does the wait; interrupted, only the wait stops.</summary>
public sealed class RunWaitRestartTests
{
    [Fact]
    public async Task Run_wait_keeps_waiting_through_a_server_restart_and_exits_0_when_the_resumed_run_finishes()
    {
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-wait-" + Guid.NewGuid().ToString("N")[..8]);
        int port = TestServer.FreePort();
        var server = await ServerProcess.StartInAsync(dataDir, port);
        CliProcess? node = null, wait = null;
        try
        {
            node = server.StartNode("a", await server.Control.CreateNodeTokenAsync("a", default), "empty", "--set", "delay_ms=300");
            await server.WaitForNodesAsync(1, [node]);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 12, minAvailable: 1, minFit: 1), "wait", default);
            wait = CliProcess.Start(["run", "wait", run.Id, "--server", server.Address.ToString(), "--ca", server.CaFile, "--token", server.AdminToken]);
            await wait.WaitForOutputAsync("round   2/12", TimeSpan.FromSeconds(60));

            await server.KillAsync();
            await wait.WaitForOutputAsync("still waiting for run", TimeSpan.FromSeconds(30));
            await Task.Delay(1500);
            server = await ServerProcess.StartInAsync(dataDir, port);

            Assert.Equal(0, await wait.WaitForExitAsync(TimeSpan.FromSeconds(120)));
            Assert.Contains("server reachable again after", wait.Output);
            Assert.Contains($"run {run.Id} finished", wait.Output);
        }
        finally
        {
            if (wait is not null) await wait.DisposeAsync();
            if (node is not null) await node.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Run_wait_interrupted_says_the_run_goes_on_and_the_run_does()
    {
        await using var server = await ServerProcess.StartAsync();
        // No node is connected: the run waits for one, and so does the wait.
        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1), "idle", default, skipPreflight: true);
        await using var wait = CliProcess.Start(["run", "wait", run.Id, "--server", server.Address.ToString(), "--ca", server.CaFile, "--token", server.AdminToken]);
        await wait.WaitForOutputAsync("waiting for nodes", TimeSpan.FromSeconds(30));
        // run list says why it waits too.
        var (code, list) = await CliProcess.RunAsync(["run", "list", "--server", server.Address.ToString(), "--ca", server.CaFile, "--token", server.AdminToken]);
        Assert.True(code == 0, list);
        Assert.Contains("waiting", list, StringComparison.Ordinal);

        using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", wait.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await term.WaitForExitAsync();
        Assert.Equal(130, await wait.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"stopped waiting; run {run.Id} goes on on the server", wait.Output);
        Assert.DoesNotContain("cohort: cancelled", wait.Output);
        Assert.Equal("running", (await server.Control.GetAsync(run.Id, default)).Run.Status);
        // The server's plain log lines carry the run's id, not ASP.NET Core's trace ids and request scope (a node's
        // registration is logged within its call).
        await using var node = server.StartNode("a", await server.Control.CreateNodeTokenAsync("a", default), "empty");
        await server.WaitForRunAsync(run.Id);
        Assert.Contains($"RunId={run.Id}", server.Process.Output, StringComparison.Ordinal);
        Assert.Contains("Node a registered", server.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("SpanId:", server.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("RequestPath:", server.Process.Output, StringComparison.Ordinal);
    }
}
