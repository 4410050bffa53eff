using Cohort.Apps;
using Cohort.Apps.Empty;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Node;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Transport.Channels;

namespace Cohort.Integration.Tests;

/// <summary>Authenticated nodes that report absurd counts or poisoned metrics are refused, each with its reason, while honest nodes finish the run.</summary>
public sealed class HostileNodeTests
{
    private static Metrics Metric(string name, double value) => new([KeyValuePair.Create(name, Scalar.Of(value))]);

    [Fact]
    public async Task Absurd_example_counts_and_poisoned_metrics_are_failures_with_their_reason_and_honest_nodes_finish()
    {
        await using var server = await TestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        var apps = new Dictionary<string, IClientApp>
        {
            ["honest-1"] = new EmptyApp(4, TimeSpan.Zero),
            ["honest-2"] = new EmptyApp(4, TimeSpan.Zero),
            ["huge"] = new HostileApp((_, _) => (long.MaxValue, Metrics.Empty)),
            ["shifty"] = new HostileApp((round, _) => (round == 1 ? 10 : 10_000, Metrics.Empty)),
            ["nan-metric"] = new HostileApp((_, _) => (10, Metric("train_loss", double.NaN))),
            ["inf-metric"] = new HostileApp((_, _) => (10, Metric("accuracy", double.PositiveInfinity))),
            ["many-metrics"] = new HostileApp((_, _) => (10, new Metrics(Enumerable.Range(0, 65).Select(i => KeyValuePair.Create($"m{i}", Scalar.Of(1.0)))))),
            ["long-name"] = new HostileApp((_, _) => (10, Metric(new string('a', 65), 1))),
            ["odd-name"] = new HostileApp((_, _) => (10, Metric("acc<script>", 1))),
            ["nan-eval"] = new HostileApp((_, _) => (10, Metrics.Empty), evaluationLoss: double.NaN),
        };
        var running = await server.StartNodesAsync(apps, "empty", stop.Token);
        try
        {
            await server.WaitForNodesAsync(apps.Count);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 2, minAvailable: apps.Count, minFit: 2, minEvaluate: 2), "hostile", default);
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            Assert.Equal(2, detail.Rounds.Count);
            foreach (var round in detail.Rounds)
            {
                var fits = round.Nodes.Where(n => n.Phase == "fit").ToDictionary(n => n.Node);
                var evaluations = round.Nodes.Where(n => n.Phase == "evaluate").ToDictionary(n => n.Node);
                Assert.True(fits["honest-1"].Ok, fits["honest-1"].Error);
                Assert.True(fits["honest-2"].Ok, fits["honest-2"].Error);
                Assert.True(evaluations["honest-1"].Ok, evaluations["honest-1"].Error);
                AssertRejected(fits["huge"], "exceed the plan's failure.max_examples 1000000000");
                AssertRejected(fits["nan-metric"], "metric 'train_loss' is NaN");
                AssertRejected(fits["inf-metric"], "metric 'accuracy' is Infinity");
                AssertRejected(fits["many-metrics"], "65 metrics exceed the limit of 64");
                AssertRejected(fits["long-name"], "metric name of 65 characters");
                AssertRejected(fits["odd-name"], "metric name 'acc?script?' has character U+003C");
                AssertRejected(evaluations["nan-eval"], "loss is NaN");
                Assert.True(fits["nan-eval"].Ok, fits["nan-eval"].Error);
            }
            // The first count a node reports sets its scale for the run; a jump of 1000× later is refused.
            Assert.True(detail.Rounds[0].Nodes.Single(n => n.Phase == "fit" && n.Node == "shifty").Ok);
            AssertRejected(detail.Rounds[1].Nodes.Single(n => n.Phase == "fit" && n.Node == "shifty"), "10000 fit examples, but the node reported 10 earlier in this run");
            Assert.Equal(apps.Count, (await server.Control.ListNodesAsync(default)).Count);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(running);
        }
    }

    private static void AssertRejected(Cohort.Transport.V1.NodeRoundResult result, string reason)
    {
        Assert.False(result.Ok, $"{result.Node} {result.Phase} was accepted");
        Assert.Contains(reason, result.Error);
    }

    /// <summary>Trains honestly (returns the model it got) but reports what <paramref name="report"/> says for the round.</summary>
    private sealed class HostileApp(Func<int, Config, (long Examples, Metrics Metrics)> report, double evaluationLoss = 0.5) : IClientApp
    {
        private int _round;

        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("weights", DType.Float32, [4])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            var (examples, metrics) = report(Interlocked.Increment(ref _round), config);
            return Task.FromResult(new FitResult(parameters, examples, metrics));
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(evaluationLoss, 5, Metrics.Empty));
    }
}
