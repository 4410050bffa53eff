using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;

namespace Cohort.Integration.Tests;

/// <summary>A real server and real node processes over TLS gRPC on loopback.</summary>
public sealed class FederationTests
{
    [Fact]
    public async Task Server_and_three_node_processes_complete_a_heart_disease_run_driven_from_the_cli()
    {
        await using var server = await TestServer.StartAsync();
        var hospitals = new[] { "cleveland", "hungarian", "va" };
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var h in hospitals)
                nodes.Add(CliProcess.StartNode(server, h, await server.Control.CreateNodeTokenAsync(h, default), "tabular", "--data", Repo.HeartData(h)));
            await server.WaitForNodesAsync(3, processes: nodes);

            string plan = Path.Combine(server.DataDir, "plan.yaml");
            await File.WriteAllTextAsync(plan, TestPlans.Heart(rounds: 9, nodes: 3, minFit: 3));
            string[] control = ["--server", server.Host.Address.ToString(), "--admin-token", server.Host.AdminToken, "--ca", server.Host.CaFile!];
            var (code, output) = await CliProcess.RunAsync(["run", "submit", plan, "--wait", "--set", "rounds=3", .. control]);
            Assert.True(code == 0, output);
            Assert.Contains("round   3/3", output);

            var runs = await server.Control.ListAsync(null, default);
            var run = Assert.Single(runs);
            Assert.Equal("finished", run.Status);
            var detail = await server.Control.GetAsync(run.Id, default);
            Assert.Equal(3, detail.Rounds.Count);
            foreach (var round in detail.Rounds)
            {
                var evaluations = round.Nodes.Where(n => n.Phase == "evaluate").ToArray();
                Assert.Equal(hospitals.Order(), evaluations.Select(e => e.Node).Order());
                Assert.All(evaluations, e => Assert.True(e.Ok && e.Examples > 0 && e.Metrics["accuracy"].DoubleValue is > 0 and <= 1, e.ToString()));
                Assert.Equal(3, round.Nodes.Count(n => n.Phase == "fit" && n.Ok));
                Assert.True(round.Metrics.ContainsKey("auc"));
                // The Control API says where each round's time went.
                Assert.Equal(Engine.Runs.RoundPhaseTimer.Names.Order(StringComparer.Ordinal), round.PhaseSeconds.Keys.Order(StringComparer.Ordinal));
                Assert.True(round.PhaseSeconds["fit"] > 0, round.ToString());
            }

            string model = Path.Combine(server.DataDir, "pulled.cps");
            (code, output) = await CliProcess.RunAsync(["model", "pull", run.Id, "--out", model, .. control]);
            Assert.True(code == 0, output);
            var parameters = await ParameterSetFile.ReadAsync(model);
            Assert.True(parameters.Count > 0);
            Assert.Null(parameters.FindNonFinite());
            Assert.Contains("wrote round 3", output);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Nodes_reconnect_by_themselves_after_a_server_restart_and_the_next_run_works()
    {
        int port = TestServer.FreePort();
        var server = await TestServer.StartAsync(port: port);
        string dataDir = server.DataDir;
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var name in new[] { "a", "b" })
                nodes.Add(CliProcess.StartNode(server, name, await server.Control.CreateNodeTokenAsync(name, default), "empty"));
            await server.WaitForNodesAsync(2, processes: nodes);
            var first = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 2, minAvailable: 2, minFit: 2), "first", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(first.Id)).Run.Status);

            await server.StopAsync();
            server = await TestServer.StartAsync(dataDir, port);
            await server.WaitForNodesAsync(2, TimeSpan.FromSeconds(30), nodes);

            var second = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 2, minAvailable: 2, minFit: 2), "second", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(second.Id)).Run.Status);
            var runs = await server.Control.ListAsync(null, default);
            Assert.Equal(new[] { first.Id, second.Id }.Order(), runs.Select(r => r.Id).Order());
            Assert.Equal(2, (await server.Control.GetAsync(first.Id, default)).Rounds.Count);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_central_evaluation_function_scores_every_round_global_model_on_the_server()
    {
        var seen = new List<(int Round, float First)>();
        var services = new Cohort.Strategies.StrategyServices(CentralEvaluator: (round, global, ct) =>
        {
            lock (seen) seen.Add((round, global["weights"].AsFloat32()[0]));
            return Task.FromResult<Cohort.Apps.EvaluateResult?>(new Cohort.Apps.EvaluateResult(1.0 / round, 50, new Cohort.Records.Metrics([new("accuracy", 0.5 + round / 10.0)])));
        });
        await using var server = await TestServer.StartAsync(strategyServices: services);
        await using var node = CliProcess.StartNode(server, "a", await server.Control.CreateNodeTokenAsync("a", default), "empty", "--set", "values=8");
        await server.WaitForNodesAsync(1, processes: [node]);

        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 3, minAvailable: 1, minFit: 1), "central", default);
        var detail = await server.WaitForRunAsync(run.Id);

        Assert.Equal("finished", detail.Run.Status);
        Assert.Equal([1, 2, 3], seen.Select(s => s.Round));
        foreach (var round in detail.Rounds)
        {
            Assert.True(round.HasCentral);
            Assert.Equal(1.0 / round.Round, round.CentralLoss, 9);
            Assert.Equal(0.5 + round.Round / 10.0, round.CentralMetrics["accuracy"].DoubleValue, 9);
        }
    }

    [Fact]
    public async Task A_plan_with_a_privacy_section_clips_and_noises_every_round_and_reports_the_privacy_spent()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = CliProcess.StartNode(server, "a", await server.Control.CreateNodeTokenAsync("a", default), "empty", "--set", "values=1000");
        await server.WaitForNodesAsync(1, processes: [node]);
        string plan = TestPlans.Empty(rounds: 3, minAvailable: 1, minFit: 1) + "\nprivacy:\n  clipping_norm: 1.0\n  noise_multiplier: 0.5\n";

        var run = await server.Control.SubmitAsync(plan, "dp", default);
        var detail = await server.WaitForRunAsync(run.Id);

        Assert.True(detail.Run.Status == "finished", detail.Run.Error);
        double previous = 0;
        foreach (var round in detail.Rounds)
        {
            double epsilon = round.FitMetrics["dp_epsilon"].DoubleValue;
            Assert.True(epsilon > previous);
            previous = epsilon;
            Assert.Equal(0.5, round.FitMetrics["dp_noise_std"].DoubleValue, 9);
        }
        // The empty app trains nothing, so whatever moved the zero model away from zero is the noise.
        var (model, _) = await server.Control.PullModelAsync(run.Id, 0, default);
        Assert.Contains(model["weights"].AsFloat32().ToArray(), v => v != 0);
    }

    [Fact]
    public async Task Under_local_privacy_each_node_process_clips_and_noises_its_update_before_sending_it()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var name in new[] { "a", "b" })
                nodes.Add(CliProcess.StartNode(server, name, await server.Control.CreateNodeTokenAsync(name, default), "empty", "--set", "values=1000"));
            await server.WaitForNodesAsync(2, processes: nodes);
            string plan = TestPlans.Empty(rounds: 2, minAvailable: 2, minFit: 2) + "\nprivacy:\n  mode: local\n  clipping_norm: 1.0\n  noise_multiplier: 0.5\n";

            var run = await server.Control.SubmitAsync(plan, "ldp", default);
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            foreach (var fit in detail.Rounds.SelectMany(r => r.Nodes).Where(n => n.Phase == "fit"))
            {
                Assert.True(fit.Ok, fit.Error);
                Assert.Equal(0.5, fit.Metrics["dp_noise_std"].DoubleValue, 9);
            }
            var (model, _) = await server.Control.PullModelAsync(run.Id, 0, default);
            Assert.Contains(model["weights"].AsFloat32().ToArray(), v => v != 0);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }
}
