using Cohort.Apps;
using Cohort.Apps.Empty;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Integration.Tests;

/// <summary>Over-selection (<c>selection.accept_first</c>) on a real server with nodes over TLS gRPC on loopback.</summary>
public sealed class AcceptFirstFederationTests
{
    [Fact]
    public async Task Rounds_close_at_the_first_three_results_while_the_fourth_node_is_still_training()
    {
        await using var server = await TestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var apps = new Dictionary<string, IClientApp>
        {
            ["a"] = new EmptyApp(4, TimeSpan.Zero),
            ["b"] = new EmptyApp(4, TimeSpan.Zero),
            ["c"] = new EmptyApp(4, TimeSpan.Zero),
            ["late"] = new GatedApp(gate.Task),
        };
        var running = await server.StartNodesAsync(apps, "empty", stop.Token);
        try
        {
            await server.WaitForNodesAsync(apps.Count);
            // A round timeout far beyond the wait below: without accept_first the run could not finish in time.
            string plan = TestPlans.Empty(rounds: 2, minAvailable: 4, minFit: 3, timeout: "10m")
                .Replace("fraction_evaluate: 0.0 }", "fraction_evaluate: 0.0, accept_first: 3 }", StringComparison.Ordinal);
            Assert.Contains("accept_first: 3", plan);
            var run = await server.Control.SubmitAsync(plan, "overselect", default);
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            Assert.Equal(2, detail.Rounds.Count);
            foreach (var round in detail.Rounds)
            {
                var fits = round.Nodes.Where(n => n.Phase == "fit").ToArray();
                Assert.Equal(["a", "b", "c"], fits.Where(n => n.Ok).Select(n => n.Node).Order(StringComparer.Ordinal));
                var late = Assert.Single(fits, n => n.Node == "late");
                Assert.False(late.Ok);
                Assert.Equal("withdrawn: the round closed at the first 3 of 4 fit results (selection.accept_first)", late.Error);
            }
        }
        finally
        {
            gate.TrySetResult();
            await stop.CancelAsync();
            await Task.WhenAll(running);
        }
    }

    /// <summary>Trains only once the gate opens (the test's end): a site far slower than the round.</summary>
    private sealed class GatedApp(Task gate) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("weights", DType.Float32, [4])]));

        public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            await gate.WaitAsync(ct);
            return new FitResult(parameters, 10, Metrics.Empty);
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0.5, 5, Metrics.Empty));
    }
}
