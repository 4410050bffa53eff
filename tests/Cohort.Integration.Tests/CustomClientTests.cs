using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>User code hosting its own client app through the public API, as separate node processes.</summary>
public sealed class CustomClientTests
{
    [Fact]
    public async Task The_custom_client_example_federates_its_own_app_and_learns_the_line()
    {
        // The example runs from its own output folder, as a site would run it: it carries its own packages
        // (logging), which this test project takes from the ASP.NET Core shared framework instead.
        string example = Path.Combine(Repo.Root, "examples", "custom-client",
            Path.GetRelativePath(Path.Combine(Repo.Root, "tests", "Cohort.Integration.Tests"), AppContext.BaseDirectory), "custom-client.dll");
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            for (int site = 1; site <= 2; site++)
            {
                string token = await server.Control.CreateNodeTokenAsync($"site{site}", default);
                nodes.Add(CliProcess.StartProgram(example,
                    [server.Host.Address.ToString(), $"site{site}", server.Host.CaFile!, site.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                    new Dictionary<string, string> { ["COHORT_NODE_TOKEN"] = token }));
            }
            await server.WaitForNodesAsync(2, processes: nodes);

            string plan = await File.ReadAllTextAsync(Path.Combine(Repo.Root, "examples", "custom-client", "plan.yaml"));
            var run = await server.Control.SubmitAsync(plan, "plan.yaml", default);
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            var last = detail.Rounds[^1];
            Assert.True(last.Loss < 0.05, $"final mse {last.Loss}");
            Assert.True(detail.Rounds[0].Loss > last.Loss);
            foreach (var node in last.Nodes.Where(n => n.Phase == "evaluate"))
            {
                Assert.InRange(node.Metrics["w"].DoubleValue, 2.7, 3.3);
                Assert.InRange(node.Metrics["b"].DoubleValue, 1.7, 2.3);
            }
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }
}
