using Cohort.Apps;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Integration.Tests.Runs;

/// <summary>failure.min_completion_rate and failure.retries, through the server's executor with in-process nodes.</summary>
public sealed class FaultToleranceTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cohort-ft-{Guid.NewGuid():N}");

    private static Plan Plan(string failure) => PlanParser.Parse($"""
        name: ft
        app: {"{ name: step }"}
        strategy: {"{ name: fedavg }"}
        rounds: 2
        selection: {"{ min_available: 4, min_fit: 1, fraction_evaluate: 0.0 }"}
        round_timeout: 2s
        wait_for_nodes: 5s
        {failure}
        """, "ft.yaml", StrategyRegistry.CreateDefault());

    /// <summary>Three quick nodes and one that never answers within the round timeout.</summary>
    private static InProcessNodePool Pool() => new("step", new Dictionary<string, IClientApp>
    {
        ["a"] = new StepApp(TimeSpan.Zero),
        ["b"] = new StepApp(TimeSpan.Zero),
        ["c"] = new StepApp(TimeSpan.Zero),
        ["slow"] = new StepApp(TimeSpan.FromSeconds(30)),
    });

    [Fact]
    public async Task A_round_below_the_completion_rate_is_retried_then_the_run_stops_with_the_reason()
    {
        var outcome = await InProcessRun.RunAsync(Plan("failure: { min_completion_rate: 1.0, retries: 2 }"), Pool(), StrategyServices.None, _folder);

        Assert.Equal(RunStatus.Failed, outcome.Run.Status);
        Assert.Contains("round 1: 3 of 4 fit results usable (75%), failure.min_completion_rate is 100% after 2 retries", outcome.Run.Error);
        Assert.Contains("slow: no result within the round timeout", outcome.Run.Error);
        var events = await outcome.Store.ListEventsAsync(outcome.Run.Id, CancellationToken.None);
        Assert.Equal(2, events.Count(e => e.Kind == "round.retry"));
        // Every attempt's timed-out task is recorded as that node's failure.
        var results = await outcome.Store.ListNodeResultsAsync(outcome.Run.Id, CancellationToken.None);
        Assert.Equal(3, results.Count(r => r.Node == "slow" && !r.Ok && r.Error!.Contains("round timeout")));
    }

    [Fact]
    public async Task A_round_at_the_completion_rate_aggregates_without_the_timed_out_node()
    {
        var outcome = await InProcessRun.RunAsync(Plan("failure: { min_completion_rate: 0.75 }"), Pool(), StrategyServices.None, _folder);

        Assert.Equal(RunStatus.Finished, outcome.Run.Status);
        var model = await outcome.Models.LoadAsync(outcome.Run.Id, 2, CancellationToken.None);
        Assert.Equal([2f, 2f, 2f, 2f], model!["w"].AsFloat32().ToArray());
        var rounds = await outcome.Store.ListRoundsAsync(outcome.Run.Id, CancellationToken.None);
        Assert.All(rounds, r => Assert.Contains("slow: no result within the round timeout", r.Error));
    }

    [Fact]
    public void The_failure_section_is_validated_with_positions()
    {
        var e = Assert.Throws<PlanException>(() => Plan("failure: { min_completion_rate: 1.5 }"));
        Assert.Equal(8, e.Line);
        Assert.Contains("failure.min_completion_rate", e.Message);
        var unknown = Assert.Throws<PlanException>(() => Plan("failure: { retry: 1 }"));
        Assert.Contains("allowed: min_completion_rate, retries", unknown.Message);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
