using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Transport.V1;

namespace Cohort.Integration.Tests;

/// <summary>
/// A real node process against a server of the Fleet protocol as it was before calls were kept open: one task per
/// <c>PullTask</c> call (the keep_open field unknown to it) and no <c>PushResults</c> (answered Unimplemented, as gRPC
/// answers a method a server does not have). The node must work with it as it did, one call per task and per result.
/// </summary>
public sealed class OlderServerTests
{
    private static readonly ParameterSet Model = ScriptedServer.Model(4);

    [Fact]
    public async Task A_node_pulls_one_task_per_call_and_pushes_one_result_per_call_to_a_server_without_kept_open_calls()
    {
        await using var server = await ScriptedServer.StartAsync([ScriptedServer.TaskOf(OlderHeader("t1"), Model), ScriptedServer.TaskOf(OlderHeader("t2"), Model)]);

        await using var node = CliProcess.Start(["node", "--server", server.Address, "--insecure", "--name", "old-server-node", "--app", "empty"],
            new Dictionary<string, string> { ["COHORT_NODE_TOKEN"] = "token" });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (server.Fleet.Results.Count < 2 && DateTime.UtcNow < deadline) await Task.Delay(100);

        var fleet = server.Fleet;
        Assert.True(fleet.Results.Count == 2, $"results received: {fleet.Results.Count}; node output:\n{node.Output}");
        Assert.Equal(["t1", "t2"], fleet.Results.Select(r => r.TaskId).Order(StringComparer.Ordinal));
        Assert.All(fleet.Results, r => Assert.Equal(Model.ByteCount, fleet.ResultBytes[r.TaskId]));
        // The node asked to keep its pull open; this server ended each call after its task, and the node opened another.
        Assert.True(fleet.KeepOpenAsked > 0);
        Assert.True(fleet.Pulls >= 2, $"pulls: {fleet.Pulls}");
    }

    // As an older server wrote a task's header: no strategy or rounds, no kept_open, no has_parameters; the call's end ends the task.
    private static TaskHeader OlderHeader(string id) => new() { TaskId = id, RunId = "run", Round = 1, Kind = TaskKind.Fit, App = "empty", TimeoutSeconds = 30 };
}
