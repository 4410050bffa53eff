using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>
/// Strategies whose tasks and results differ from the global model (SCAFFOLD's control variates,
/// personal tensors kept on the nodes) and FedBuff's asynchronous loop, over real node processes.
/// </summary>
public sealed class StrategyFederationTests
{
    [Fact]
    public async Task Scaffold_personalised_and_asynchronous_runs_complete_over_real_nodes()
    {
        await using var server = await TestServer.StartAsync();
        var hospitals = new[] { "cleveland", "hungarian", "va" };
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var h in hospitals)
                nodes.Add(CliProcess.StartNode(server, h, await server.Control.CreateNodeTokenAsync(h, default), "tabular", "--data", Repo.HeartData(h)));
            await server.WaitForNodesAsync(3, processes: nodes);

            string heart = TestPlans.Heart(rounds: 3, nodes: 3, minFit: 3);
            string scaffold = heart.Replace("  name: fedavg", "  name: scaffold", StringComparison.Ordinal);
            string personal = heart + "\npersonalization:\n  local: [linear.bias]\n";
            string buffered = TestPlans.Heart(rounds: 6, nodes: 3, minFit: 1) + "\nasynchronous:\n  buffer_size: 2\n  staleness: { type: hinge, a: 1.0, b: 1 }\n";

            foreach (var (name, plan, rounds) in new[] { ("scaffold", scaffold, 3), ("personal", personal, 3), ("fedbuff", buffered, 6) })
            {
                var run = await server.Control.SubmitAsync(plan, name, default);
                var detail = await server.WaitForRunAsync(run.Id);
                Assert.True(detail.Run.Status == "finished", $"{name}: {detail.Run.Status} {detail.Run.Error}");
                Assert.Equal(rounds, detail.Rounds.Count);
                Assert.All(detail.Rounds, r => Assert.True(r.Nodes.Where(n => n.Phase == "fit").All(n => n.Ok), $"{name} round {r.Round}: {r.Error}"));
                if (name == "personal")
                {
                    // Each node evaluates with its own bias: three personalised accuracies per round.
                    Assert.Equal(3, detail.Rounds[^1].Nodes.Count(n => n.Phase == "evaluate" && n.Ok));
                }
            }
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }
}
