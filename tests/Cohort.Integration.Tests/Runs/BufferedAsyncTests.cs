using Cohort.Apps;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Integration.Tests.Runs;

/// <summary>FedBuff through the server's executor: nodes of very different speeds, staleness weighting.</summary>
public sealed class BufferedAsyncTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cohort-fedbuff-{Guid.NewGuid():N}");

    private static Plan Plan(string staleness) => PlanParser.Parse($"""
        name: buffered
        app: {"{ name: step }"}
        strategy: {"{ name: fedavg }"}
        rounds: 12
        selection: {"{ min_available: 3, fraction_evaluate: 0.0 }"}
        round_timeout: 10s
        asynchronous:
          buffer_size: 2
          staleness: {staleness}
        """, "buffered.yaml", StrategyRegistry.CreateDefault());

    /// <summary>Two quick nodes and one forty times slower.</summary>
    private static InProcessNodePool Pool() => new("step", new Dictionary<string, IClientApp>
    {
        ["fast1"] = new StepApp(TimeSpan.FromMilliseconds(5)),
        ["fast2"] = new StepApp(TimeSpan.FromMilliseconds(5)),
        ["slow"] = new StepApp(TimeSpan.FromMilliseconds(200)),
    });

    [Fact]
    public async Task Fast_nodes_drive_the_model_while_a_slow_node_trains_at_its_own_pace()
    {
        var outcome = await InProcessRun.RunAsync(Plan("{ type: constant }"), Pool(), StrategyServices.None, _folder);

        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        Assert.Equal(12, outcome.Run.RoundsDone);
        var results = (await outcome.Store.ListNodeResultsAsync(outcome.Run.Id, CancellationToken.None)).Where(r => r.Ok).ToArray();
        int fast = results.Count(r => r.Node.StartsWith("fast", StringComparison.Ordinal));
        int slow = results.Count(r => r.Node == "slow");
        Assert.True(fast > 4 * slow, $"fast nodes delivered {fast} updates, the slow node {slow}");
        // With constant staleness every version adds exactly the mean update, +1, whatever its age.
        var model = await outcome.Models.LoadAsync(outcome.Run.Id, 12, CancellationToken.None);
        Assert.Equal([12f, 12f, 12f, 12f], model!["w"].AsFloat32().ToArray());
    }

    [Fact]
    public async Task Stale_updates_are_weighted_down_by_the_staleness_function()
    {
        var outcome = await InProcessRun.RunAsync(Plan("{ type: polynomial, a: 1.0 }"), Pool(), StrategyServices.None, _folder);

        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        var model = await outcome.Models.LoadAsync(outcome.Run.Id, 12, CancellationToken.None);
        float w = model!["w"].AsFloat32()[0];
        // Each version adds the mean of s(τ)·1 ≤ 1; any update computed on an older model adds less.
        Assert.True(w < 12f && w > 3f, $"w = {w}");
    }

    [Fact]
    public void Only_averaging_strategies_can_run_asynchronously()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: b\napp: { name: step }\nstrategy: { name: krum }\nasynchronous: { buffer_size: 2 }\n", "b.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal(4, e.Line);
        Assert.Contains("allowed: fedavg, fedprox", e.Message);
    }

    [Fact]
    public void A_staleness_key_the_type_does_not_use_is_refused()
    {
        var e = Assert.Throws<PlanException>(() => Plan("{ type: constant, a: 2 }"));
        Assert.Contains("not used by type 'constant'", e.Message);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
