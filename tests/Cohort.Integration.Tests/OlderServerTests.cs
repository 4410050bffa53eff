using System.Collections.Concurrent;
using System.Net;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cohort.Integration.Tests;

/// <summary>
/// A real node process against a server of the Fleet protocol as it was before calls were kept open: one task per
/// <c>PullTask</c> call (the keep_open field unknown to it) and no <c>PushResults</c> (answered Unimplemented, as gRPC
/// answers a method a server does not have). The node must work with it as it did, one call per task and per result.
/// </summary>
public sealed class OlderServerTests
{
    [Fact]
    public async Task A_node_pulls_one_task_per_call_and_pushes_one_result_per_call_to_a_server_without_kept_open_calls()
    {
        var fleet = new OneCallEachFleet(["t1", "t2"]);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(fleet);
        await using var app = builder.Build();
        app.MapGrpcService<OneCallEachFleet>();
        await app.StartAsync();
        string address = app.Urls.Single();

        await using var node = CliProcess.Start(["node", "--server", address, "--insecure", "--name", "old-server-node", "--app", "empty"],
            new Dictionary<string, string> { ["COHORT_NODE_TOKEN"] = "token" });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (fleet.Results.Count < 2 && DateTime.UtcNow < deadline) await Task.Delay(100);

        Assert.True(fleet.Results.Count == 2, $"results received: {fleet.Results.Count}; node output:\n{node.Output}");
        Assert.Equal(["t1", "t2"], fleet.Results.Select(r => r.TaskId).Order(StringComparer.Ordinal));
        Assert.All(fleet.Results, r => Assert.Equal(OneCallEachFleet.Model.ByteCount, r.Bytes));
        // The node asked to keep its pull open; this server ended each call after its task, and the node opened another.
        Assert.True(fleet.KeepOpenAsked > 0);
        Assert.True(fleet.Pulls >= 2, $"pulls: {fleet.Pulls}");
        await app.StopAsync();
    }

    /// <summary>The Fleet service of a server that knows neither keep_open nor PushResults.</summary>
    private sealed class OneCallEachFleet(IReadOnlyList<string> tasks) : Fleet.FleetBase
    {
        public static readonly ParameterSet Model = new([Tensor.Zeros("weights", Cohort.Parameters.DType.Float32, [4])]);

        private readonly ConcurrentQueue<string> _tasks = new(tasks);
        private int _pulls;
        private int _keepOpenAsked;

        public ConcurrentBag<(string TaskId, long Bytes)> Results { get; } = [];

        public int Pulls => Volatile.Read(ref _pulls);

        public int KeepOpenAsked => Volatile.Read(ref _keepOpenAsked);

        public override Task<RegisterReply> Register(RegisterRequest request, ServerCallContext context) =>
            Task.FromResult(new RegisterReply { NodeId = request.NodeName, HeartbeatIntervalMs = 500, ServerVersion = "older" });

        public override Task<HeartbeatReply> Heartbeat(HeartbeatRequest request, ServerCallContext context) => Task.FromResult(new HeartbeatReply());

        public override async Task PullTask(PullTaskRequest request, IServerStreamWriter<TaskMessage> responseStream, ServerCallContext context)
        {
            Interlocked.Increment(ref _pulls);
            if (request.KeepOpen) Interlocked.Increment(ref _keepOpenAsked);
            // The next task only once the last one's result is in, as the board would do for a node of capacity 1.
            int given = tasks.Count - _tasks.Count;
            if (Results.Count < given || !_tasks.TryDequeue(out var id))
            {
                await Task.Delay(Math.Min(request.WaitMs, 200), context.CancellationToken);
                return;
            }
            // As an older server wrote it: no kept_open, no has_parameters; the call's end ends the task.
            await responseStream.WriteAsync(new TaskMessage { Header = new TaskHeader { TaskId = id, RunId = "run", Round = 1, Kind = TaskKind.Fit, App = "empty", TimeoutSeconds = 30 } });
            await responseStream.WriteAsync(new TaskMessage { Manifest = ParameterEncoder.Manifest(Model) });
            foreach (var chunk in ParameterEncoder.Chunks(Model)) await responseStream.WriteAsync(new TaskMessage { Chunk = chunk });
        }

        public override async Task<PushResultReply> PushResult(IAsyncStreamReader<ResultMessage> requestStream, ServerCallContext context)
        {
            Assert.True(await requestStream.MoveNext());
            var header = requestStream.Current.Header;
            long bytes = 0;
            while (await requestStream.MoveNext())
            {
                if (requestStream.Current.BodyCase == ResultMessage.BodyOneofCase.Chunk) bytes += requestStream.Current.Chunk.Data.Length;
            }
            Results.Add((header.TaskId, bytes));
            return new PushResultReply { Accepted = true };
        }
    }
}
