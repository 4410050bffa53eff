using System.Collections.Concurrent;
using System.Net;
using Cohort.Apps;
using Cohort.Node;
using Cohort.Parameters;
using Cohort.Transport.Channels;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cohort.Integration.Tests.Infrastructure;

/// <summary>
/// A Fleet server that sends exactly the task messages a test scripts, malformed ones included, one task per
/// <c>PullTask</c> call (as a server without kept-open calls does), has no <c>PushResults</c> (answered Unimplemented, as
/// a server older than kept-open result calls), and records every pull, result and registration. For node tests against
/// a hostile, buggy or older server; it runs in this process on a loopback port.
/// </summary>
internal sealed class ScriptedServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ScriptedServer(WebApplication app, ScriptedFleet fleet)
    {
        _app = app;
        Fleet = fleet;
        Address = app.Urls.Single();
    }

    /// <summary>What the node called and sent.</summary>
    public ScriptedFleet Fleet { get; }

    /// <summary>http://127.0.0.1:PORT.</summary>
    public string Address { get; }

    /// <summary>Starts a server that hands out <paramref name="tasks"/> in order, each its list of messages.</summary>
    public static async Task<ScriptedServer> StartAsync(IEnumerable<IReadOnlyList<TaskMessage>> tasks)
    {
        var fleet = new ScriptedFleet(tasks);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = 16 << 20);
        builder.Services.AddSingleton(fleet);
        var app = builder.Build();
        app.MapGrpcService<ScriptedFleet>();
        await app.StartAsync();
        return new ScriptedServer(app, fleet);
    }

    /// <summary>Options of a node named site1 connecting to this server.</summary>
    public NodeOptions NodeOptions(ILogger? logger = null) => new()
    {
        Connection = new ConnectionOptions(Address, "token", Insecure: true),
        Name = "site1",
        PollWait = TimeSpan.FromMilliseconds(200),
        Logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
    };

    /// <summary>
    /// Runs a node of <paramref name="options"/> with the empty app until <paramref name="results"/> results are in
    /// (at most 30 s), then stops it; returns them by task id. A node that ends on its own fails the test.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, ResultHeader>> ServeAsync(NodeOptions options, int results)
    {
        using var stop = new CancellationTokenSource();
        var node = CohortNode.RunAsync(new Cohort.Apps.Empty.EmptyAppFactory(), options, stop.Token);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Fleet.Results.Count < results && !node.IsCompleted && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.False(node.IsCompleted, $"the node ended on its own: {node.Exception?.GetBaseException()}");
        await stop.CancelAsync();
        await node.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(Fleet.Results.Count >= results, $"results received: {Fleet.Results.Count} of {results}");
        return Fleet.Results.ToDictionary(r => r.TaskId, StringComparer.Ordinal);
    }

    /// <summary>A fit task's header: the empty app, run r1, round 1.</summary>
    public static TaskHeader Header(string id, TaskKind kind = TaskKind.Fit) =>
        new() { TaskId = id, RunId = "r1", Round = 1, Kind = kind, App = "empty", Strategy = "fedavg", Rounds = 1, TimeoutSeconds = 30 };

    /// <summary>A task as a server writes it: its header, then the manifest and chunks of <paramref name="model"/>.</summary>
    public static IReadOnlyList<TaskMessage> TaskOf(TaskHeader header, ParameterSet model) =>
        [new TaskMessage { Header = header }, new TaskMessage { Manifest = ParameterEncoder.Manifest(model) }, .. ParameterEncoder.Chunks(model).Select(c => new TaskMessage { Chunk = c })];

    /// <summary>A model of <paramref name="values"/> float32 zeros.</summary>
    public static ParameterSet Model(int values) => new([Tensor.Zeros("weights", Cohort.Parameters.DType.Float32, [values])]);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>The Fleet service of <see cref="ScriptedServer"/>.</summary>
internal sealed class ScriptedFleet(IEnumerable<IReadOnlyList<TaskMessage>> tasks) : Fleet.FleetBase
{
    private readonly ConcurrentQueue<IReadOnlyList<TaskMessage>> _tasks = new(tasks);
    private int _registrations;
    private int _pulls;
    private int _keepOpenAsked;

    /// <summary>Every result header received, in order.</summary>
    public ConcurrentQueue<ResultHeader> Results { get; } = new();

    /// <summary>Bytes of parameter chunks each result carried, by task id; set before the result's header is in <see cref="Results"/>.</summary>
    public ConcurrentDictionary<string, long> ResultBytes { get; } = new(StringComparer.Ordinal);

    /// <summary><c>PullTask</c> calls the node made.</summary>
    public int Pulls => Volatile.Read(ref _pulls);

    /// <summary><c>PullTask</c> calls that asked to be kept open, which this server ends after one task all the same.</summary>
    public int KeepOpenAsked => Volatile.Read(ref _keepOpenAsked);

    /// <summary>Times a node registered: 1 while it keeps its first session.</summary>
    public int Registrations => Volatile.Read(ref _registrations);

    public override Task<RegisterReply> Register(RegisterRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref _registrations);
        return System.Threading.Tasks.Task.FromResult(new RegisterReply { NodeId = request.NodeName, HeartbeatIntervalMs = 500, ServerVersion = "scripted" });
    }

    public override Task<HeartbeatReply> Heartbeat(HeartbeatRequest request, ServerCallContext context) => System.Threading.Tasks.Task.FromResult(new HeartbeatReply());

    public override async Task PullTask(PullTaskRequest request, IServerStreamWriter<TaskMessage> responseStream, ServerCallContext context)
    {
        Interlocked.Increment(ref _pulls);
        if (request.KeepOpen) Interlocked.Increment(ref _keepOpenAsked);
        if (!_tasks.TryDequeue(out var messages))
        {
            await System.Threading.Tasks.Task.Delay(Math.Min(request.WaitMs, 200), context.CancellationToken);
            return;
        }
        foreach (var message in messages) await responseStream.WriteAsync(message);
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
        ResultBytes[header.TaskId] = bytes;
        Results.Enqueue(header);
        return new PushResultReply { Accepted = true };
    }
}
