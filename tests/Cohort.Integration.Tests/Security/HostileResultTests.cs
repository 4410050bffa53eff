using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Cohort.Integration.Tests.Security;

/// <summary>
/// What a node holding a valid token cannot do with its result and task calls: write unbounded audit entries, make the
/// server hold huge messages, keep an upload's memory past its task, or open kept-open pulls without end.
/// </summary>
public sealed class HostileResultTests
{
    [Fact]
    public async Task A_result_naming_an_over_long_task_id_is_refused_and_leaves_no_audit_entry()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "evil", await server.Control.CreateNodeTokenAsync("evil", default));

        var e = await Assert.ThrowsAsync<RpcException>(() => PushAsync(node, new string('A', 100_000)));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("a task id of 100000 characters; the server's are at most 512", e.Status.Detail);
        await server.StopAsync();
        var lines = await File.ReadAllLinesAsync(Path.Combine(server.DataDir, "audit.jsonl"));
        Assert.DoesNotContain(lines, l => l.Contains("AAAAAAAAAA", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Results_for_no_task_of_the_nodes_are_recorded_once_per_interval_not_each()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "evil", await server.Control.CreateNodeTokenAsync("evil", default));

        for (int i = 0; i < 40; i++)
        {
            var reply = await PushAsync(node, $"no-such-task-{i}");
            Assert.False(reply.Accepted);
            Assert.Contains("is unknown, finished or expired", reply.Reason, StringComparison.Ordinal);
        }

        await server.StopAsync();
        var rejected = (await File.ReadAllLinesAsync(Path.Combine(server.DataDir, "audit.jsonl")))
            .Where(l => l.Contains("\"result.rejected\"", StringComparison.Ordinal) && l.Contains("no-such-task-", StringComparison.Ordinal)).ToArray();
        // Forty pushes in well under the ten-second interval: the first is recorded, the others are not, one by one.
        Assert.Single(rejected);
        Assert.Contains("no-such-task-0", rejected[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_result_message_over_the_fleet_limit_is_refused_before_the_service_reads_it()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "evil", await server.Control.CreateNodeTokenAsync("evil", default));
        var header = new ResultHeader { TaskId = "t", NodeName = node.Name, Ok = true };
        header.Metrics.Add("padding", new Scalar { StringValue = new string('x', 2 << 20) });

        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var push = node.Fleet.PushResult();
            try
            {
                await push.RequestStream.WriteAsync(new ResultMessage { Header = header });
                await push.RequestStream.CompleteAsync();
            }
            catch (Exception write) when (write is RpcException or InvalidOperationException)
            {
                // Writes fail once the server has answered; the answer is what counts.
            }
            await push.ResponseAsync;
        });

        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        // The server still answers the node's next, ordinary result.
        Assert.False((await PushAsync(node, "no-such-task")).Accepted);
    }

    [Fact]
    public async Task A_result_header_over_256_KiB_ends_its_call_and_the_next_call_is_answered()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "evil", await server.Control.CreateNodeTokenAsync("evil", default));
        var header = new ResultHeader { TaskId = "t", NodeName = node.Name, Ok = false, Error = "x" };
        header.Metrics.Add("padding", new Scalar { StringValue = new string('x', 300 << 10) });

        using var push = node.Fleet.PushResults();
        await push.RequestStream.WriteAsync(new ResultMessage { Header = header });
        var e = await Assert.ThrowsAsync<RpcException>(() => push.ResponseStream.MoveNext());

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("a result header of 3", e.Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith("bytes; at most 262144", e.Status.Detail, StringComparison.Ordinal);
        Assert.False((await PushAsync(node, "no-such-task")).Accepted);
    }

    [Fact]
    public async Task A_header_over_256_KiB_for_the_nodes_own_task_fails_that_task_at_once_with_the_reason()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "big", await server.Control.CreateNodeTokenAsync("big", default));
        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, timeout: "120s"), "big-header", default, skipPreflight: true);
        var task = await node.PullAsync(TaskKind.GetParameters, TimeSpan.FromSeconds(30));
        var header = new ResultHeader { TaskId = task.TaskId, NodeName = node.Name, Ok = false, Error = new string('e', 300 << 10) };

        using var push = node.Fleet.PushResult();
        await push.RequestStream.WriteAsync(new ResultMessage { Header = header });
        var e = await Assert.ThrowsAsync<RpcException>(async () => await push.ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);

        // The run hears of it now, not after its 120 s round timeout.
        var detail = await server.WaitForRunAsync(run.Id).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("failed", detail.Run.Status);
        Assert.Contains("big: rejected result: a result header of ", detail.Run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_upload_still_trickling_in_when_its_task_times_out_is_abandoned_then_not_after_the_idle_limit()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "slow", await server.Control.CreateNodeTokenAsync("slow", default));
        await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, timeout: "2s"), "slow", default, skipPreflight: true);
        var task = await node.PullAsync(TaskKind.GetParameters, TimeSpan.FromSeconds(30));

        using var push = node.Fleet.PushResult();
        await push.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = task.TaskId, NodeName = node.Name, Ok = true, Examples = 1, HasParameters = true } });
        var manifest = new ParameterManifest { TotalBytes = 1 << 20, Sha256 = ByteString.CopyFrom(new byte[32]) };
        var tensor = new TensorSpec { Name = "weights", Dtype = Cohort.Transport.V1.DType.Float32 };
        tensor.Shape.Add((1 << 20) / 4);
        manifest.Tensors.Add(tensor);
        await push.RequestStream.WriteAsync(new ResultMessage { Manifest = manifest });
        await push.RequestStream.WriteAsync(new ResultMessage { Chunk = new ParameterChunk { Offset = 0, Data = ByteString.CopyFrom(new byte[64 << 10]) } });

        // The task times out after 2 s; the upload's idle limit is 60 s. The answer comes with the first, well before the second.
        var reply = await push.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(reply.Accepted);
        Assert.Contains("the task ended", reply.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kept_open_task_pulls_past_twice_the_nodes_capacity_and_four_are_refused()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "hoarder", await server.Control.CreateNodeTokenAsync("hoarder", default));
        const int allowed = 2 * 1 + 4; // capacity 1 (the raw node's)
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var open = new List<AsyncServerStreamingCall<TaskMessage>>();
        try
        {
            for (int i = 0; i < allowed; i++)
            {
                var call = node.Fleet.PullTask(new PullTaskRequest { NodeName = node.Name, WaitMs = 1000, KeepOpen = true }, cancellationToken: timeout.Token);
                // The first sign of life: the server has taken the call.
                Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
                open.Add(call);
            }

            using var refused = node.Fleet.PullTask(new PullTaskRequest { NodeName = node.Name, WaitMs = 1000, KeepOpen = true }, cancellationToken: timeout.Token);
            var e = await Assert.ThrowsAsync<RpcException>(() => refused.ResponseStream.MoveNext(timeout.Token));

            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
            Assert.Contains($"node 'hoarder' already has {allowed} kept-open task calls open; at most {allowed}", e.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var call in open) call.Dispose();
        }
    }

    [Fact]
    public async Task Plain_task_pulls_past_twice_the_nodes_capacity_and_four_are_refused_too()
    {
        // A plain pull waits up to 30 s holding its request, as a kept-open one does: it counts against the same kind of limit.
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "puller", await server.Control.CreateNodeTokenAsync("puller", default));
        const int allowed = 2 * 1 + 4; // capacity 1 (the raw node's)
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var calls = Enumerable.Range(0, allowed + 3)
            .Select(_ => node.Fleet.PullTask(new PullTaskRequest { NodeName = node.Name, WaitMs = 30_000 }, cancellationToken: cancel.Token)).ToList();
        try
        {
            var reads = calls.Select(c => c.ResponseStream.MoveNext(cancel.Token)).ToList();
            var deadline = DateTime.UtcNow.AddSeconds(25);
            while (reads.Count(r => r.IsCompleted) < 3 && DateTime.UtcNow < deadline) await Task.Delay(50);

            var ended = reads.Where(r => r.IsCompleted).ToList();
            Assert.Equal(3, ended.Count);
            Assert.All(ended, r =>
            {
                var e = Assert.IsType<RpcException>(r.Exception?.InnerException);
                Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
                Assert.Contains($"node 'puller' already has {allowed} task pull calls open; at most {allowed}", e.Status.Detail, StringComparison.Ordinal);
            });
        }
        finally
        {
            await cancel.CancelAsync();
            foreach (var call in calls) call.Dispose();
        }
    }

    private static async Task<PushResultReply> PushAsync(RawNode node, string taskId)
    {
        using var push = node.Fleet.PushResult();
        await push.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = taskId, NodeName = node.Name, Ok = false, Error = "x" } });
        await push.RequestStream.CompleteAsync();
        return await push.ResponseAsync;
    }
}
