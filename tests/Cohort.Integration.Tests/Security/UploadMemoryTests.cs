using Xunit.Abstractions;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Cohort.Integration.Tests.Security;

/// <summary>One node cannot fill the server's memory with result uploads.</summary>
public sealed class UploadMemoryTests(ITestOutputHelper output)
{
    private const long MiB = 1 << 20;
    private const int ChunkBytes = 64 << 10;

    [Fact]
    public async Task Concurrent_uploads_for_one_task_are_refused_and_memory_returns_after_rejection()
    {
        await using var server = await ServerProcess.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("hog", default);
        await using var node = await RawNode.RegisterAsync(server.Address, server.CaFile, "hog", token);
        await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1), "hog", default, skipPreflight: true);
        var task = await node.PullAsync(TaskKind.GetParameters, TimeSpan.FromSeconds(30));
        long baseline = server.ResidentBytes();

        // Four streams for the same task, each announcing 400 MiB (within every size limit) and sending 192 MiB, each on
        // a connection of its own: the server's rule is per task whatever the connection, and a refused stream reset
        // while megabytes of its data are still in flight must not take the one upload that goes on down with it.
        var channels = Enumerable.Range(0, 4).Select(_ => Cohort.Transport.Channels.GrpcChannels.Create(new Cohort.Transport.Channels.ConnectionOptions(server.Address.ToString(), token, server.CaFile))).ToArray();
        var streams = channels.Select(c => new Fleet.FleetClient(c).PushResult()).ToArray();
        var sending = streams.Select(s => SendAsync(s, node.Name, task.TaskId, declared: 400 * MiB, send: 192 * MiB)).ToArray();
        var details = new string[streams.Length];
        var outcomes = await Task.WhenAll(sending.Select(async (t, i) =>
        {
            try
            {
                await t;
                details[i] = "sent";
                return StatusCode.OK;
            }
            catch (Exception e) when (e is RpcException or InvalidOperationException or IOException)
            {
                // A refused stream's writes fail once the call is over (as a gRPC status or, when the
                // server's reset of the stream wins, an HTTP/2 error); its status says why.
                details[i] = $"write failed ({e.GetType().Name}: {e.Message})";
                try
                {
                    await streams[i].ResponseAsync;
                    return StatusCode.OK;
                }
                catch (RpcException refused)
                {
                    details[i] += $"; status {refused.StatusCode}: {refused.Status.Detail}";
                    return refused.StatusCode;
                }
            }
        }));
        long peak = server.ResidentBytes();

        // At most one stream may carry the task's upload; the others are refused as a concurrency conflict.
        // (Should it fail: every stream's story and the server's log, to tell a refusal from a lost connection.)
        string seen = string.Join(", ", outcomes);
        Assert.True(outcomes.Count(c => c == StatusCode.Aborted) == 3 && outcomes.Contains(StatusCode.OK),
            $"outcomes of the four streams: {seen}\n{string.Join("\n", details)}\nserver log:\n{server.Process.Output}");
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await streams[Array.IndexOf(outcomes, StatusCode.Aborted)].ResponseAsync);
        Assert.Contains("already has a result upload in progress", refused.Status.Detail);
        Assert.True(peak - baseline < 600 * MiB, $"server grew by {(peak - baseline) / MiB} MiB during the uploads (baseline {baseline / MiB} MiB)");

        // The active stream now lies about its next offset: rejected, and its buffers go back at once.
        var active = streams[Array.IndexOf(outcomes, StatusCode.OK)];
        await active.RequestStream.WriteAsync(new ResultMessage { Chunk = new ParameterChunk { Offset = 1, Data = ByteString.CopyFrom(new byte[16]) } });
        var reply = await active.ResponseAsync;
        Assert.False(reply.Accepted);
        Assert.Contains("chunk at offset 1", reply.Reason);
        long after = await SettledResidentAsync(server, baseline + 96 * MiB);
        output.WriteLine($"server RSS: baseline {baseline / MiB} MiB, during uploads {peak / MiB} MiB, after rejection {after / MiB} MiB");
        Assert.True(after - baseline < 96 * MiB, $"server still {(after - baseline) / MiB} MiB above baseline after the rejection");
        foreach (var s in streams) s.Dispose();
        foreach (var c in channels) c.Dispose();
    }

    [Fact]
    public async Task An_upload_larger_than_the_per_node_budget_is_refused_with_resource_exhausted()
    {
        await using var server = await ServerProcess.StartAsync("--node-upload-memory-mb", "64");
        await using var node = await RawNode.RegisterAsync(server.Address, server.CaFile, "big", await server.Control.CreateNodeTokenAsync("big", default));
        await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1), "big", default, skipPreflight: true);
        var task = await node.PullAsync(TaskKind.GetParameters, TimeSpan.FromSeconds(30));

        using var push = node.Fleet.PushResult();
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            try
            {
                await SendAsync(push, node.Name, task.TaskId, declared: 65 * MiB, send: 1 * MiB);
                await push.RequestStream.CompleteAsync();
            }
            catch (Exception write) when (write is RpcException or InvalidOperationException)
            {
                // Writes fail once the server has answered; the answer is what counts.
            }
            await push.ResponseAsync;
        });
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("per-node upload memory of 67108864 bytes", e.Status.Detail);
    }

    /// <summary>Header, a one-tensor manifest announcing <paramref name="declared"/> bytes, then <paramref name="send"/> bytes in small chunks.</summary>
    private static async Task SendAsync(AsyncClientStreamingCall<ResultMessage, PushResultReply> push, string node, string taskId, long declared, long send)
    {
        await push.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = taskId, NodeName = node, Ok = true, Examples = 1, HasParameters = true } });
        var manifest = new ParameterManifest { TotalBytes = declared, Sha256 = ByteString.CopyFrom(new byte[32]) };
        var tensor = new TensorSpec { Name = "weights", Dtype = Cohort.Transport.V1.DType.Float32 };
        tensor.Shape.Add(declared / 4);
        manifest.Tensors.Add(tensor);
        await push.RequestStream.WriteAsync(new ResultMessage { Manifest = manifest });
        var data = ByteString.CopyFrom(new byte[ChunkBytes]);
        for (long offset = 0; offset < send; offset += ChunkBytes)
            await push.RequestStream.WriteAsync(new ResultMessage { Chunk = new ParameterChunk { Offset = offset, Data = data } });
    }

    /// <summary>The server's RSS once it drops under <paramref name="target"/>, or its last value after a deadline.</summary>
    private static async Task<long> SettledResidentAsync(ServerProcess server, long target)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        long rss = server.ResidentBytes();
        while (rss >= target && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            rss = server.ResidentBytes();
        }
        return rss;
    }
}
