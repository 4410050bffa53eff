using System.Text.Json;
using Cohort.Dashboard.Tests.Infrastructure;
using Cohort.Server.Dashboard;
using Microsoft.Extensions.DependencyInjection;

namespace Cohort.Dashboard.Tests;

/// <summary>The live feed's snapshot keeps the JSON names and order the pages read (it is serialised without reflection).</summary>
[Collection(DashboardCollection.Name)]
public sealed class LiveFeedTests(Federation federation)
{
    [Fact]
    public async Task Snapshot_names_node_counts_and_each_run_in_camel_case_with_nulls_for_runs_not_in_progress()
    {
        await federation.WaitForRunAsync(federation.HeartRun);
        var feed = federation.Host.Services.GetRequiredService<LiveFeed>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        JsonElement root = default;
        // The run's progress is cleared just after it is stored as finished; snapshots are cached for one period.
        await Federation.WaitUntilAsync(async () =>
        {
            root = JsonElement.Parse(await feed.SnapshotAsync(cts.Token));
            bool cleared = root.GetProperty("runs").EnumerateArray().Any(r => r.GetProperty("id").GetString() == federation.HeartRun && r.GetProperty("round").ValueKind == JsonValueKind.Null);
            if (!cleared) await Task.Delay(LiveFeed.Period, cts.Token);
            return cleared;
        }, "the finished run's progress to leave the live feed");
        Assert.Equal(["nodesOnline", "nodesBusy", "runs"], root.EnumerateObject().Select(p => p.Name));
        Assert.InRange(root.GetProperty("nodesOnline").GetInt32(), 1, Federation.NodeCount);
        var runs = root.GetProperty("runs").EnumerateArray().ToList();
        Assert.All(runs, r => Assert.Equal(["id", "status", "done", "planned", "round", "phase", "received", "waiting"], r.EnumerateObject().Select(p => p.Name)));
        var heart = runs.Single(r => r.GetProperty("id").GetString() == federation.HeartRun);
        Assert.Equal("finished", heart.GetProperty("status").GetString());
        Assert.Equal(Federation.HeartRounds, heart.GetProperty("done").GetInt32());
        Assert.Equal(Federation.HeartRounds, heart.GetProperty("planned").GetInt32());
        Assert.Equal(JsonValueKind.Null, heart.GetProperty("phase").ValueKind);
        Assert.Equal(JsonValueKind.Null, heart.GetProperty("waiting").ValueKind);
    }
}
