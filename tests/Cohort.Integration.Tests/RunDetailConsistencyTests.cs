using Cohort.Apps;
using Cohort.Apps.Empty;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>
/// A run's detail read while rounds finish (what `cohort run submit --wait` and the demo print a line from, once per
/// round) lists no round without its node results.
/// </summary>
public sealed class RunDetailConsistencyTests
{
    [Fact]
    public async Task Every_round_a_run_detail_lists_carries_its_node_results_while_rounds_finish()
    {
        await using var server = await TestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        var apps = new Dictionary<string, IClientApp> { ["a"] = new EmptyApp(4, TimeSpan.Zero), ["b"] = new EmptyApp(4, TimeSpan.Zero) };
        var running = await server.StartNodesAsync(apps, "empty", stop.Token);
        try
        {
            await server.WaitForNodesAsync(2);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 300, minAvailable: 2, minFit: 2), "detail", default);
            int reads = 0, roundsSeen = 0;
            while (true)
            {
                var detail = await server.Control.GetAsync(run.Id, default);
                reads++;
                foreach (var round in detail.Rounds)
                    Assert.True(round.Nodes.Count == 2, $"read {reads}: round {round.Round} ({round.Status}) listed with {round.Nodes.Count} node results");
                roundsSeen = detail.Rounds.Count;
                if (detail.Run.TypedStatus().IsFinal()) break;
            }
            Assert.Equal(300, roundsSeen);
            Assert.True(reads > 20, $"only {reads} reads while the run went on: the check above saw too little");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(running);
        }
    }
}
