using System.Globalization;
using Cohort.Apps;
using Cohort.Apps.Empty;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Transport.Channels;

namespace Cohort.Integration.Tests;

/// <summary>
/// <c>failure.retries</c> when a node drops out of a round: the retry waits for nodes as a round's start does.
/// A real server with in-process nodes over TLS gRPC on loopback.
/// </summary>
public sealed class RoundRetryTests
{
    // Three nodes, all needed, and one retry; a node lost fails its task at once (offline_grace 0).
    private static string Plan(string waitForNodes) => $$"""
        name: retry-wait
        app: { name: empty }
        strategy: { name: fedavg }
        rounds: 2
        selection: { min_available: 3, min_fit: 3, min_evaluate: 0, fraction_fit: 1.0, fraction_evaluate: 0.0 }
        round_timeout: 30s
        wait_for_nodes: {{waitForNodes}}
        seed: 7
        failure: { min_completion_rate: 1, retries: 1, offline_grace: 0 }
        """;

    [Fact]
    public async Task A_retry_waits_for_a_node_that_dropped_out_and_the_run_finishes_when_it_comes_back()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(1));
        await using var fleet = await Fleet.StartAsync(server);
        await server.WaitForNodesAsync(3);

        var run = await server.Control.SubmitAsync(Plan("15s"), "retry-back", default);
        await fleet.DropAsync();
        // The retry is waiting for the lost node: only now does it come back, under the same name.
        await WaitForEventAsync(server, run.Id, "run.waiting: round 1, retry 1 of 1: waiting for nodes: 3 needed (min_available), 2 connected");
        fleet.Restart();
        var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromSeconds(30));

        Assert.True(detail.Run.Status == "finished", detail.Run.Error);
        Assert.Equal([1, 2], detail.Rounds.Select(r => r.Round));
        Assert.All(detail.Rounds, r => Assert.Equal("done", r.Status));
        var first = detail.Rounds[0];
        // The failed attempt's results stay on record beside the retry's.
        var lost = Assert.Single(first.Nodes, n => !n.Ok);
        Assert.Equal("c", lost.Node);
        // Stopped by its host, c told the server it was leaving: counted offline at once, as its node timeout would later.
        Assert.Equal("node left", lost.Error);
        Assert.Equal(["a", "a", "b", "b", "c"], first.Nodes.Where(n => n.Ok).Select(n => n.Node).Order(StringComparer.Ordinal));
        Assert.Single(detail.Events, e => e.Contains(" round.retry: round 1, attempt 1: 2 of 3 fit results usable", StringComparison.Ordinal));
        Assert.Contains(detail.Events, e => e.Contains(" run.nodes_ready: round 1, retry 1 of 1: 3 nodes connected, 3 needed (min_available), after waiting", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_retry_whose_node_does_not_come_back_fails_the_run_after_wait_for_nodes_naming_the_earlier_reason()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(1));
        await using var fleet = await Fleet.StartAsync(server);
        await server.WaitForNodesAsync(3);

        var run = await server.Control.SubmitAsync(Plan("3s"), "retry-gone", default);
        await fleet.DropAsync();
        var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromSeconds(30));

        Assert.Equal("failed", detail.Run.Status);
        Assert.StartsWith("round 1: retry 1 of 1 waited 3s (wait_for_nodes) for 3 nodes: 3 needed (min_available), 2 connected with app 'empty'", detail.Run.Error);
        Assert.Contains("; the attempt before failed: 2 of 3 fit results usable, min_fit is 3; failures: c: node left", detail.Run.Error);
        var round = Assert.Single(detail.Rounds);
        Assert.Equal("failed", round.Status);
        Assert.Equal(detail.Run.Error, round.Error);
        // The run failed once the retry's wait ran out, not as soon as the retry was announced.
        var retried = EventTime(Assert.Single(detail.Events, e => e.Contains(" round.retry: ", StringComparison.Ordinal)));
        var failed = EventTime(Assert.Single(detail.Events, e => e.Contains(" run.failed: ", StringComparison.Ordinal)));
        Assert.InRange((failed - retried).TotalSeconds, 2.9, 15);
    }

    private static DateTimeOffset EventTime(string line) =>
        DateTimeOffset.Parse(line[..line.IndexOf(' ', StringComparison.Ordinal)], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    private static async Task WaitForEventAsync(TestServer server, string runId, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var detail = await server.Control.GetAsync(runId, default);
            if (detail.Events.Any(e => e.Contains(text, StringComparison.Ordinal))) return;
            if (detail.Run.TypedStatus().IsFinal())
                throw new Xunit.Sdk.XunitException($"run {detail.Run.Status} without '{text}': {detail.Run.Error}\n{string.Join("\n", detail.Events)}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no event '{text}':\n{string.Join("\n", detail.Events)}");
            await Task.Delay(50);
        }
    }

    /// <summary>Nodes a and b, and node c whose first fit never answers: the test stops c there, and c leaves.</summary>
    private sealed class Fleet : IAsyncDisposable
    {
        private readonly TestServer _server;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _running = [];
        private readonly List<CancellationTokenSource> _links = [];
        private readonly CancellationTokenSource _cStop = new();
        private readonly DroppingApp _c;
        private readonly string _cToken;

        private Fleet(TestServer server, string cToken)
        {
            _server = server;
            _cToken = cToken;
            _c = new DroppingApp(_cStop.Token);
        }

        public static async Task<Fleet> StartAsync(TestServer server)
        {
            var fleet = new Fleet(server, await server.Control.CreateNodeTokenAsync("c", default));
            fleet._running.AddRange(await server.StartNodesAsync(new Dictionary<string, IClientApp>
            {
                ["a"] = new EmptyApp(4, TimeSpan.Zero),
                ["b"] = new EmptyApp(4, TimeSpan.Zero),
            }, "empty", fleet._stop.Token));
            fleet.Restart();
            return fleet;
        }

        /// <summary>Waits until c is in its first fit, then stops c's node, which tells the server it is leaving (its fit unanswered).</summary>
        public async Task DropAsync()
        {
            await _c.Fitting.WaitAsync(TimeSpan.FromSeconds(20));
            await _cStop.CancelAsync();
        }

        /// <summary>Starts node c (again, once dropped), with the same name and token.</summary>
        public void Restart()
        {
            var stop = _cStop.IsCancellationRequested ? _stop : CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, _cStop.Token);
            if (stop != _stop) _links.Add(stop);
            var options = new Cohort.Node.NodeOptions
            {
                Connection = new ConnectionOptions(_server.Host.Address.ToString(), _cToken, _server.Host.CaFile),
                Name = "c",
            };
            _running.Add(Cohort.Node.CohortNode.RunAsync(_c, "empty", options, stop.Token));
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            foreach (var link in _links) link.Dispose();
            _stop.Dispose();
            _cStop.Dispose();
        }
    }

    /// <summary>Its first fit does not answer until <paramref name="dropped"/> (its node stopped); later fits answer at once.</summary>
    private sealed class DroppingApp(CancellationToken dropped) : IClientApp
    {
        private readonly IClientApp _inner = new EmptyApp(4, TimeSpan.Zero);
        private readonly TaskCompletionSource _fitting = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the first fit has begun.</summary>
        public Task Fitting => _fitting.Task;

        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => _inner.GetParametersAsync(config, ct);

        public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            if (_fitting.TrySetResult())
            {
                using var either = CancellationTokenSource.CreateLinkedTokenSource(ct, dropped);
                await Task.Delay(Timeout.Infinite, either.Token);
            }
            return await _inner.FitAsync(parameters, config, ct);
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) => _inner.EvaluateAsync(parameters, config, ct);
    }
}
