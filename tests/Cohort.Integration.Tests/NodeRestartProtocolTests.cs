using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;

namespace Cohort.Integration.Tests;

/// <summary>Task ids are idempotency keys: a restarted node gets its task again under the same id, and a repeated answer changes nothing.</summary>
public sealed class NodeRestartProtocolTests
{
    [Fact]
    public async Task A_node_that_registers_again_gets_its_open_task_again_and_a_duplicate_answer_is_ignored()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(30));
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "r", await server.Control.CreateNodeTokenAsync("r", default));
        await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, timeout: "60s"), "restart", default, skipPreflight: true);
        var first = await node.PullAsync(TaskKind.GetParameters, TimeSpan.FromSeconds(30));

        // The node restarts while working on the task: it registers again and pulls.
        await node.Fleet.RegisterAsync(new RegisterRequest { NodeName = "r", App = "empty", Version = "test", ProtocolVersion = 1 });
        var again = await node.PullAsync(TaskKind.GetParameters, TimeSpan.FromSeconds(30));

        Assert.Equal(first.TaskId, again.TaskId);
        var answer = await PushAsync(node, again.TaskId);
        Assert.True(answer.Accepted, answer.Reason);
        var duplicate = await PushAsync(node, again.TaskId);
        Assert.True(duplicate.Accepted, duplicate.Reason);
        Assert.Contains("duplicate result ignored", duplicate.Reason);

        // A heartbeat that still lists the answered task (sent before the node heard back) is not told to cancel it; an unknown task is.
        var beat = new HeartbeatRequest { NodeName = "r" };
        beat.BusyTaskIds.Add(again.TaskId);
        beat.BusyTaskIds.Add("no-such-task");
        var reply = await node.Fleet.HeartbeatAsync(beat);
        Assert.Equal(["no-such-task"], reply.CancelTaskIds);

        // To another node the answered task is as unknown as one that never was: no existence to learn from either call.
        await using var other = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "o", await server.Control.CreateNodeTokenAsync("o", default));
        var probe = new HeartbeatRequest { NodeName = "o" };
        probe.BusyTaskIds.Add(again.TaskId);
        Assert.Equal([again.TaskId], (await other.Fleet.HeartbeatAsync(probe)).CancelTaskIds);
        var pushed = await PushAsync(other, again.TaskId);
        Assert.False(pushed.Accepted);
        Assert.Equal($"task '{again.TaskId}' is unknown, finished or expired", pushed.Reason);
    }

    private static async Task<PushResultReply> PushAsync(RawNode node, string taskId)
    {
        var weights = new ParameterSet([Tensor.Zeros("weights", Cohort.Parameters.DType.Float32, [4])]);
        using var push = node.Fleet.PushResult();
        await push.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = taskId, NodeName = node.Name, Ok = true, Examples = 1, HasParameters = true } });
        await push.RequestStream.WriteAsync(new ResultMessage { Manifest = ParameterEncoder.Manifest(weights) });
        foreach (var chunk in ParameterEncoder.Chunks(weights)) await push.RequestStream.WriteAsync(new ResultMessage { Chunk = chunk });
        await push.RequestStream.CompleteAsync();
        return await push.ResponseAsync;
    }
}
