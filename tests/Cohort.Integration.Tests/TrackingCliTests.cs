using System.Net;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>The tracking and access commands as an operator runs them: <c>cohort run metrics</c> and <c>cohort token create --viewer</c>.</summary>
public sealed class TrackingCliTests
{
    [Fact]
    public async Task Run_metrics_exports_every_node_round_and_phase_and_a_viewer_token_opens_the_dashboard_read_only()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var name in new[] { "a", "b" })
                nodes.Add(CliProcess.StartNode(server, name, await server.Control.CreateNodeTokenAsync(name, default), "empty"));
            await server.WaitForNodesAsync(2, processes: nodes);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 3, minAvailable: 2, minFit: 2, minEvaluate: 2), "empty.yaml", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(run.Id)).Run.Status);

            string[] control = ["--server", server.Host.Address.ToString(), "--admin-token", server.Host.AdminToken, "--ca", server.Host.CaFile!];
            var (code, output) = await CliProcess.RunAsync(["run", "metrics", run.Id, "--format", "csv", .. control]);
            Assert.True(code == 0, output);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains("run,round,node,phase,ok,examples,loss,duration_seconds,upload_bytes,aggregation_seconds,round_seconds,error", lines);
            foreach (var round in new[] { 1, 2, 3 })
            {
                foreach (var node in new[] { "a", "b" })
                {
                    Assert.Single(lines, l => l.StartsWith($"{run.Id},{round},{node},fit,true,1,", StringComparison.Ordinal));
                    Assert.Single(lines, l => l.StartsWith($"{run.Id},{round},{node},evaluate,true,1,0,", StringComparison.Ordinal));
                }
                Assert.Single(lines, l => l.StartsWith($"{run.Id},{round},(global),fit,true,", StringComparison.Ordinal));
            }

            string file = Path.Combine(server.DataDir, "metrics.json");
            (code, output) = await CliProcess.RunAsync(["run", "metrics", run.Id, "-f", "json", "-o", file, .. control]);
            Assert.True(code == 0, output);
            using (var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(file)))
                Assert.Equal(3 * (2 + 4), json.RootElement.GetProperty("rows").GetArrayLength());

            (code, output) = await CliProcess.RunAsync(["run", "metrics", run.Id, "--format", "xml", .. control]);
            Assert.NotEqual(0, code);
            Assert.Contains("xml", output, StringComparison.Ordinal);

            (code, output) = await CliProcess.RunAsync(["token", "create", "--viewer", "auditor", .. control]);
            Assert.True(code == 0, output);
            string token = CliProcess.TokenIn(output);
            using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator })
            {
                BaseAddress = server.Host.DashboardAddress,
            };
            http.DefaultRequestHeaders.Authorization = new("Bearer", token);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/runs/{run.Id}")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsync($"/runs/{run.Id}/stop", new FormUrlEncodedContent([]))).StatusCode);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }
}
