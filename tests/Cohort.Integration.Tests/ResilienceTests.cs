using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>Large models and server restarts in the middle of a run.</summary>
public sealed class ResilienceTests
{
    [Fact]
    public async Task A_256_MB_model_streams_to_a_node_and_back_over_tls()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(10));
        const int Values = 64 << 20; // 64M float32 = 256 MiB, far above gRPC's 4 MB message limit
        await using var node = CliProcess.StartNode(server, "big", await server.Control.CreateNodeTokenAsync("big", default), "empty", "--set", $"values={Values}");
        await server.WaitForNodesAsync(1, processes: [node]);

        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, timeout: "120s"), "big", default);
        var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromMinutes(3));

        Assert.True(detail.Run.Status == "finished", detail.Run.Error + node.Output);
        var fit = Assert.Single(detail.Rounds.Single().Nodes, n => n.Phase == "fit");
        Assert.True(fit.Ok, fit.Error);
        Assert.Equal(Values * 4L, fit.UploadBytes);
        var (model, round) = await server.Control.PullModelAsync(run.Id, 0, default);
        Assert.Equal(1, round);
        Assert.Equal(Values, model["weights"].Count);
    }

    [Fact]
    public async Task Pulling_a_model_whose_file_is_damaged_names_the_file_and_the_damage()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = CliProcess.StartNode(server, "solo", await server.Control.CreateNodeTokenAsync("solo", default), "empty", "--set", "values=16");
        await server.WaitForNodesAsync(1, processes: [node]);
        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1), "damaged", default);
        var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromMinutes(2));
        Assert.True(detail.Run.Status == "finished", detail.Run.Error + node.Output);

        string file = Path.Combine(server.DataDir, "models", run.Id, "round-0001.cps");
        using (var stream = File.OpenWrite(file)) stream.SetLength(stream.Length - 7);

        var e = await Assert.ThrowsAnyAsync<Exception>(() => server.Control.PullModelAsync(run.Id, 0, default));
        Assert.Contains(file, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.DoesNotContain("Exception was thrown by handler", e.Message);
    }

    [Fact]
    public async Task A_run_interrupted_by_a_server_restart_resumes_after_its_last_saved_round()
    {
        int port = TestServer.FreePort();
        var server = await TestServer.StartAsync(port: port);
        string dataDir = server.DataDir;
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var name in new[] { "a", "b" })
                nodes.Add(CliProcess.StartNode(server, name, await server.Control.CreateNodeTokenAsync(name, default), "empty", "--set", "delay_ms=400"));
            await server.WaitForNodesAsync(2, processes: nodes);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 6, minAvailable: 2, minFit: 2), "resume", default);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await server.Control.GetAsync(run.Id, default)).Run.RoundsDone < 2)
            {
                Assert.True(DateTime.UtcNow < deadline, "the run did not reach round 2");
                await Task.Delay(50);
            }

            await server.StopAsync();
            server = await TestServer.StartAsync(dataDir, port);
            var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromSeconds(60));

            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            Assert.Equal(Enumerable.Range(1, 6), detail.Rounds.Select(r => r.Round));
            Assert.Contains(detail.Events, e => e.Contains("run.resumed", StringComparison.Ordinal));
            // Each round holds exactly one fit result per node, even the one the restart interrupted.
            Assert.All(detail.Rounds, r => Assert.Equal(new[] { "a", "b" }, r.Nodes.Where(n => n.Phase == "fit").Select(n => n.Node).Order()));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            await server.DisposeAsync();
        }
    }
}
