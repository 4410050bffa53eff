using Cohort.Clients;
using Cohort.Engine;
using Cohort.Engine.Nodes;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Server.Hosting;
using Cohort.Server.Observability;
using Cohort.Server.Security;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using TaskKind = Cohort.Clients.TaskKind;

namespace Cohort.Server.Fleet;

/// <summary>The Fleet API: nodes register, heartbeat, pull tasks and push results.</summary>
public sealed class FleetService(
    NodeAuthenticator auth, NodeRegistry registry, TaskBoard board, IStateStore store, ServerOptions options,
    ServerMetrics metrics, UploadBudget uploads, LogThrottle throttle, ILogger<FleetService> log) : Transport.V1.Fleet.FleetBase
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public override async Task<RegisterReply> Register(RegisterRequest request, ServerCallContext context)
    {
        string node = await AuthenticateAs(request.NodeName, context);
        await RefuseSecondProcessAsync(node, request.SessionId, context);
        registry.Register(node, request.App, request.Version, context.Peer, request.SessionId);
        // A node that registers again has restarted: whatever it was working on is lost, so it gets
        // those tasks again (same ids) unless the plan allows no offline grace.
        board.NodeLost(node, FailureKind.NodeRestarted, "node restarted while working on the task", offline: false);
        await store.UpdateNodeAsync(new NodeRecord(node, NodeStatus.Online, DateTimeOffset.UtcNow, context.Peer, request.App, request.Version), context.CancellationToken);
        await store.AddEventAsync(null, "node.online", $"node '{node}' registered from {context.Peer} (app {request.App}, version {request.Version})", context.CancellationToken);
        log.LogInformation("Node {Node} registered from {Peer} with app {App}", node, context.Peer, request.App);
        return new RegisterReply
        {
            NodeId = node,
            HeartbeatIntervalMs = (int)options.HeartbeatInterval.TotalMilliseconds,
            ServerVersion = ServerInfo.Version,
        };
    }

    // Another session holds the name with a recent sign of life. A node that restarted quickly looks the same for a moment,
    // so wait until the other session either calls again after this request (a second live process: refused) or stays
    // silent past the node timeout (the dead session of a restarted process: this registration replaces it).
    private async Task RefuseSecondProcessAsync(string node, string session, ServerCallContext context)
    {
        var asked = DateTimeOffset.UtcNow;
        while (registry.OtherLiveSession(node, session, options.NodeTimeout) is { } other)
        {
            if (other.LastSeen > asked)
            {
                string message = $"node '{node}' is already connected from {other.Address}; stop the other process or use another name";
                log.LogWarning("Refused a second process for node {Node} from {Peer}: {Reason}", node, context.Peer, message);
                await store.AddEventAsync(null, "node.duplicate", $"{message} (second process at {context.Peer})", context.CancellationToken);
                throw new RpcException(new Status(StatusCode.AlreadyExists, message));
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), context.CancellationToken);
        }
    }

    /// <inheritdoc />
    public override async Task<HeartbeatReply> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        string node = await AuthenticateAs(request.NodeName, context);
        if (!registry.Touch(node, request.BusyTaskId, updateBusy: true))
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "node not registered with this server; register again"));
        var reply = new HeartbeatReply();
        if (!string.IsNullOrEmpty(request.BusyTaskId) && board.Find(request.BusyTaskId) is null)
            reply.CancelTaskIds.Add(request.BusyTaskId);
        return reply;
    }

    /// <inheritdoc />
    public override async Task PullTask(PullTaskRequest request, IServerStreamWriter<TaskMessage> responseStream, ServerCallContext context)
    {
        string node = await AuthenticateAs(request.NodeName, context);
        if (!registry.Touch(node))
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "node not registered with this server; register again"));
        var wait = TimeSpan.FromMilliseconds(Math.Clamp(request.WaitMs, 0, (int)MaxWait.TotalMilliseconds));
        var task = await board.TakeAsync(node, wait, context.CancellationToken);
        if (task is null) return;
        var header = new TaskHeader
        {
            TaskId = task.Id,
            RunId = task.RunId,
            Round = task.Round,
            Kind = TaskKinds.ToWire(task.Kind),
            App = task.App,
            TimeoutSeconds = (int)Math.Ceiling(task.Timeout.TotalSeconds),
        };
        ScalarMaps.CopyTo(task.AppSettings, header.AppSettings);
        ScalarMaps.CopyTo(task.Config, header.Config);
        try
        {
            await responseStream.WriteAsync(new TaskMessage { Header = header }, context.CancellationToken);
            if (task.Parameters is { } p)
            {
                await responseStream.WriteAsync(new TaskMessage { Manifest = ParameterEncoder.Manifest(p) }, context.CancellationToken);
                foreach (var chunk in ParameterEncoder.Chunks(p))
                    await responseStream.WriteAsync(new TaskMessage { Chunk = chunk }, context.CancellationToken);
                metrics.BytesOut.Inc(p.ByteCount);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            board.Complete(task, TaskOutcome.Failed(FailureKind.Undeliverable, $"task could not be delivered: {e.Message}"));
            throw;
        }
    }

    /// <inheritdoc />
    public override async Task<PushResultReply> PushResult(IAsyncStreamReader<ResultMessage> requestStream, ServerCallContext context)
    {
        try
        {
            return await ReceiveResultAsync(requestStream, context);
        }
        catch (InvalidProtocolBufferException e)
        {
            // A result message that does not decode is the caller's mistake, not the server's.
            if (throttle.Allow("undecodable-result", out long suppressed))
                log.LogWarning("Refused an undecodable result message from {Peer}: {Error} ({Suppressed} more since the last line)", context.Peer, e.Message, suppressed);
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"undecodable result message: {e.Message}"));
        }
    }

    private async Task<PushResultReply> ReceiveResultAsync(IAsyncStreamReader<ResultMessage> requestStream, ServerCallContext context)
    {
        string node = await auth.AuthenticateAsync(context);
        registry.Touch(node);
        var ct = context.CancellationToken;
        using var scope = log.BeginScope(LogScope.Node(node));
        if (!await requestStream.MoveNext(ct) || requestStream.Current.BodyCase != ResultMessage.BodyOneofCase.Header)
            throw new RpcException(new Status(StatusCode.InvalidArgument, "a result stream starts with its header"));
        var header = requestStream.Current.Header;
        if (header.NodeName != node) throw new RpcException(new Status(StatusCode.PermissionDenied, $"token belongs to node '{node}', not '{header.NodeName}'"));
        var task = board.Find(header.TaskId);
        if (task is null && board.WasAnswered(header.TaskId))
        {
            // Task ids are idempotency keys: a repeated push of an answered task changes nothing.
            log.LogInformation("Node {Node} task {Task}: duplicate result ignored (task already completed)", node, header.TaskId);
            return new PushResultReply { Accepted = true, Reason = "duplicate result ignored: task already completed" };
        }
        if (task is null) return Reject($"task '{header.TaskId}' is unknown, finished or expired");
        if (task.Node != node) return Reject($"task '{header.TaskId}' was not given to node '{node}'");
        // A second stream for the same task would only multiply the memory one result may take.
        using var active = uploads.BeginTask(task.Id);
        double duration = header.DurationSeconds;
        if (!header.Ok)
        {
            board.Complete(task, TaskOutcome.Failed(FailureKind.ClientError, $"node error: {header.Error}", duration));
            return new PushResultReply { Accepted = true };
        }

        ParameterSet? parameters = null;
        long uploadBytes = 0;
        if (header.HasParameters && task.Kind is TaskKind.Evaluate or TaskKind.Statistics)
        {
            // Nothing to receive: accepting bytes nobody needs would let a node fill the server's memory.
            string what = task.Kind == TaskKind.Evaluate ? "an evaluation result" : "a statistics result";
            board.Complete(task, TaskOutcome.Failed(FailureKind.Rejected, $"rejected result: {what} carries no parameters", duration));
            return Reject($"{what} carries no parameters");
        }
        if (header.HasParameters)
        {
            try
            {
                (parameters, uploadBytes) = await ReceiveParametersAsync(requestStream, node, task, ct);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                board.Complete(task, TaskOutcome.Failed(FailureKind.Rejected, $"rejected result: {e.Status.Detail}", duration));
                log.LogWarning("Node {Node} task {Task}: {Reason}", node, task.Id, e.Status.Detail);
                throw;
            }
            catch (InvalidDataException e)
            {
                string reason = $"rejected result: {e.Message}";
                board.Complete(task, TaskOutcome.Failed(FailureKind.Rejected, reason, duration, uploadBytes));
                log.LogWarning("Node {Node} task {Task}: {Reason}", node, task.Id, reason);
                return Reject(reason);
            }
        }
        if (task.Kind is TaskKind.Fit or TaskKind.GetParameters && parameters is null)
        {
            board.Complete(task, TaskOutcome.Failed(FailureKind.Rejected, "rejected result: no parameters", duration));
            return Reject("a fit or get-parameters result must carry parameters");
        }
        var resultMetrics = ScalarMaps.ToMetrics(header.Metrics);
        if (task.Kind != TaskKind.GetParameters
            && board.Validator.Check(task.RunId, node, task.Phase, header.Examples, header.Loss, resultMetrics, task.Limits) is { } invalid)
        {
            string reason = $"rejected result: {invalid}";
            board.Complete(task, TaskOutcome.Failed(FailureKind.Rejected, reason, duration, uploadBytes));
            log.LogWarning("Node {Node} task {Task}: {Reason}", node, task.Id, reason);
            return Reject(invalid);
        }
        var outcome = new TaskOutcome(true, null, header.Examples, header.Loss, resultMetrics, parameters, duration, uploadBytes);
        return board.Complete(task, outcome) ? new PushResultReply { Accepted = true } : Reject("task already completed");
    }

    private async Task<(ParameterSet, long)> ReceiveParametersAsync(IAsyncStreamReader<ResultMessage> stream, string node, PendingTask task, CancellationToken ct)
    {
        // A stalled stream must not hold its reserved memory forever.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (!await NextAsync(stream, idle, ct) || stream.Current.BodyCase != ResultMessage.BodyOneofCase.Manifest)
            throw new InvalidDataException("parameters announced but no manifest followed");
        var manifest = stream.Current.Manifest;
        if (task.Expected is { } expected) CheckManifest(manifest, expected);
        // The assembler checks the manifest and allocates nothing; the budget is taken before any byte is stored.
        using var assembler = new ParameterAssembler(manifest, options.MaxUploadBytes);
        using var lease = await uploads.ReserveAsync(node, assembler.TotalBytes, ct);
        while (!assembler.IsComplete)
        {
            if (!await NextAsync(stream, idle, ct)) throw new InvalidDataException("stream ended before all parameter bytes arrived");
            if (stream.Current.BodyCase != ResultMessage.BodyOneofCase.Chunk) throw new InvalidDataException($"expected a parameter chunk, got {stream.Current.BodyCase}");
            assembler.Add(stream.Current.Chunk);
        }
        var parameters = assembler.Complete();
        if (parameters.FindNonFinite() is { } bad) throw new InvalidDataException(bad);
        return (parameters, manifest.TotalBytes);
    }

    private async Task<bool> NextAsync(IAsyncStreamReader<ResultMessage> stream, CancellationTokenSource idle, CancellationToken ct)
    {
        idle.CancelAfter(options.UploadIdleTimeout);
        try
        {
            return await stream.MoveNext(idle.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new InvalidDataException($"no upload data for {options.UploadIdleTimeout.TotalSeconds:0}s; upload abandoned");
        }
    }

    private static void CheckManifest(ParameterManifest manifest, ParameterSet expected)
    {
        if (manifest.Tensors.Count != expected.Count)
            throw new InvalidDataException($"expected {expected.Count} tensors, got {manifest.Tensors.Count}");
        for (int i = 0; i < expected.Count; i++)
        {
            var e = expected[i];
            var a = manifest.Tensors[i];
            bool same = a.Name == e.Name && (int)a.Dtype == (int)e.DType && a.Shape.Count == e.Shape.Length;
            for (int d = 0; same && d < e.Shape.Length; d++) same = a.Shape[d] == e.Shape[d];
            if (!same)
                throw new InvalidDataException($"tensor {i}: expected {e.Spec}, got {a.Name} {((Parameters.DType)(int)a.Dtype).Name()}[{string.Join(",", a.Shape)}]");
        }
    }

    private static PushResultReply Reject(string reason) => new() { Accepted = false, Reason = reason };

    private async Task<string> AuthenticateAs(string claimed, ServerCallContext context)
    {
        string node = await auth.AuthenticateAsync(context);
        if (!string.IsNullOrEmpty(claimed) && claimed != node)
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"token belongs to node '{node}', not '{claimed}'"));
        return node;
    }
}
