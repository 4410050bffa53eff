using Cohort.Apps;
using Cohort.Apps.Empty;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Node;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Transport.Channels;

namespace Cohort.Integration.Tests;

/// <summary>Bad input gets a clear error, nothing is lost, and the server keeps serving.</summary>
public sealed class BadInputTests
{
    [Fact]
    public async Task A_corrupt_csv_row_fails_that_node_naming_the_file_and_the_round_goes_on_while_the_value_and_line_stay_on_the_node()
    {
        await using var server = await TestServer.StartAsync();
        string corrupt = Path.Combine(server.DataDir, "processed.corrupt.data");
        var lines = File.ReadAllLines(Repo.HeartData("cleveland"));
        lines[4] = lines[4].Replace(lines[4].Split(',')[4], "abc", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(corrupt, lines);
        var nodes = new List<CliProcess>();
        try
        {
            nodes.Add(CliProcess.StartNode(server, "corrupt", await server.Control.CreateNodeTokenAsync("corrupt", default), "tabular", "--data", corrupt));
            nodes.Add(CliProcess.StartNode(server, "hungarian", await server.Control.CreateNodeTokenAsync("hungarian", default), "tabular", "--data", Repo.HeartData("hungarian")));
            nodes.Add(CliProcess.StartNode(server, "va", await server.Control.CreateNodeTokenAsync("va", default), "tabular", "--data", Repo.HeartData("va")));
            await server.WaitForNodesAsync(3, processes: nodes);

            // The preflight at submit finds the bad row before any run is queued...
            var refused = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(TestPlans.Heart(rounds: 2, nodes: 3, minFit: 2), "heart", default));
            Assert.StartsWith("preflight failed: node corrupt: column 'chol' holds text but is not declared categorical", refused.Message);
            Assert.DoesNotContain("abc", refused.Message, StringComparison.Ordinal);
            Assert.Empty(await server.Control.ListAsync(null, default));

            // ...and without it, the node's app fails that node alone, naming the file, while the round goes on.
            var run = await server.Control.SubmitAsync(TestPlans.Heart(rounds: 2, nodes: 3, minFit: 2), "heart", default, skipPreflight: true);
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            var failures = detail.Rounds.SelectMany(r => r.Nodes).Where(n => !n.Ok).ToArray();
            Assert.NotEmpty(failures);
            Assert.All(failures, f => Assert.Equal("corrupt", f.Node));
            Assert.StartsWith("node error: processed.corrupt.data: column 'chol': a value is not a number", failures[0].Error);
            Assert.All(failures, f => Assert.DoesNotContain("abc", f.Error, StringComparison.Ordinal));
            // The value and its line, which the site needs to fix the row, are in the node's own log only.
            var node = nodes[0];
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!(node.Output.Contains("processed.corrupt.data:5: column 'chol': 'abc' is not a number", StringComparison.Ordinal)
                && node.Output.Contains("column 'chol' holds text ('abc')", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, node.Output);
                await Task.Delay(50);
            }
            Assert.All(detail.Rounds, r => Assert.Equal(2, r.Nodes.Count(n => n.Phase == "fit" && n.Ok)));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Results_with_a_wrong_shape_or_nan_are_rejected_as_failures_and_the_round_goes_on()
    {
        await using var server = await TestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        var apps = new Dictionary<string, IClientApp>
        {
            ["honest"] = new EmptyApp(4, TimeSpan.Zero),
            ["shape"] = new TamperingApp(_ => new ParameterSet([Tensor.Zeros("weights", DType.Float32, [5])])),
            ["nan"] = new TamperingApp(p =>
            {
                var copy = p.Clone();
                copy[0].AsFloat32()[3] = float.NaN;
                return copy;
            }),
            ["inf"] = new TamperingApp(p =>
            {
                var copy = p.Clone();
                copy[0].AsFloat32()[0] = float.PositiveInfinity;
                return copy;
            }),
        };
        var running = await server.StartNodesAsync(apps, "empty", stop.Token);
        try
        {
            await server.WaitForNodesAsync(4);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 2, minAvailable: 4, minFit: 1), "tamper", default);
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            foreach (var round in detail.Rounds)
            {
                var fits = round.Nodes.Where(n => n.Phase == "fit").ToDictionary(n => n.Node);
                Assert.True(fits["honest"].Ok);
                Assert.False(fits["shape"].Ok);
                Assert.Contains("expected weights float32[4], got weights float32[5]", fits["shape"].Error);
                Assert.False(fits["nan"].Ok);
                Assert.Contains("NaN or infinity", fits["nan"].Error);
                Assert.False(fits["inf"].Ok);
                Assert.Contains("NaN or infinity", fits["inf"].Error);
            }
            // The server still serves.
            Assert.Equal(4, (await server.Control.ListNodesAsync(default)).Count);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(running);
        }
    }

    [Fact]
    public async Task A_node_with_an_unknown_token_is_refused_with_a_clear_message_and_the_server_keeps_serving()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = CliProcess.StartNode(server, "intruder", "not-a-real-token", "empty");
        int code = await node.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, code);
        Assert.Contains("server refused node 'intruder': unknown node token", node.Output);
        Assert.DoesNotContain("   at ", node.Output);
        Assert.Empty(await server.Control.ListNodesAsync(default));
    }

    [Fact]
    public async Task A_plan_naming_an_unknown_strategy_is_refused_with_line_and_allowed_names()
    {
        await using var server = await TestServer.StartAsync();
        string plan = Path.Combine(server.DataDir, "bad.yaml");
        await File.WriteAllTextAsync(plan, TestPlans.Empty(1, 1, 1).Replace("name: fedavg", "name: fedfoo", StringComparison.Ordinal));

        var (code, output) = await CliProcess.RunAsync(["run", "submit", plan, "--server", server.Host.Address.ToString(), "--admin-token", server.Host.AdminToken, "--ca", server.Host.CaFile!]);

        Assert.Equal(1, code);
        Assert.Contains("bad.yaml:3:", output);
        Assert.Contains("unknown strategy 'fedfoo'", output);
        Assert.Contains("fedavg", output);
        Assert.Single(output.Trim().Split('\n'));
        Assert.Empty(await server.Control.ListAsync(null, default));
    }

    private sealed class TamperingApp(Func<ParameterSet, ParameterSet> tamper) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("weights", DType.Float32, [4])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new FitResult(tamper(parameters), 10, Metrics.Empty));

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0, 1, Metrics.Empty));
    }
}
