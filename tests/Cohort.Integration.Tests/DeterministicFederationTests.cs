using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>A deployed federation gives the same model bytes for the same plan and seed, whatever order the nodes' results arrive in.</summary>
public sealed class DeterministicFederationTests
{
    [Fact]
    public async Task Two_runs_of_one_plan_over_node_processes_end_with_byte_identical_models()
    {
        await using var server = await TestServer.StartAsync();
        var hospitals = new[] { "cleveland", "hungarian", "va" };
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var h in hospitals)
                nodes.Add(CliProcess.StartNode(server, h, await server.Control.CreateNodeTokenAsync(h, default), "tabular", "--data", Repo.HeartData(h)));
            await server.WaitForNodesAsync(3, processes: nodes);

            string plan = TestPlans.Heart(rounds: 3, nodes: 3, minFit: 3);
            var models = new List<byte[]>();
            foreach (string name in new[] { "first", "second" })
            {
                var run = await server.Control.SubmitAsync(plan, name, default);
                var detail = await server.WaitForRunAsync(run.Id);
                Assert.True(detail.Run.Status == "finished", detail.Run.Error);
                Assert.All(detail.Rounds, r => Assert.Equal(3, r.Nodes.Count(n => n.Phase == "fit" && n.Ok)));
                var (model, _) = await server.Control.PullModelAsync(run.Id, 0, default);
                models.Add(model.SelectMany(t => t.Data).ToArray());
            }
            Assert.Equal(models[0], models[1]);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }
}
