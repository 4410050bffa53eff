using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>`cohort run wait` (and `run submit --wait`) ride out a server restart: the run resumes, and so does the wait.</summary>
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
}
