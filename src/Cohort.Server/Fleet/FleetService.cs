using Cohort.Audit;
using Cohort.Clients;
using Cohort.Engine;
using Cohort.Engine.Nodes;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Server.Audit;
using Cohort.Records;
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
internal sealed class FleetService(
    NodeAuthenticator auth, NodeRegistry registry, TaskBoard board, OfflineNodes offline, IStateStore store, ServerOptions options,
    ServerMetrics metrics, UploadBudget uploads, OpenCalls calls, LogThrottle throttle, AuditLedger ledger, RegistrationGate writes,
    Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime, ILogger<FleetService> log) : Transport.V1.Fleet.FleetBase
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    // A message written with this stays in the send buffer until the next flushed one.
    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);

    // A node claiming more is held to this: each task it holds may take a model's worth of server memory.
    private const int MaxCapacity = 64;

    /// <summary>The largest result header (its metrics and a preflight's findings included).</summary>
    internal const int MaxResultHeaderBytes = 256 << 10;

    /// <summary>The longest task id a result may name (the server's own are a run id, a round, a phase and a node name).</summary>
    internal const int MaxTaskIdLength = 512;

    /// <inheritdoc />
    public override async Task<RegisterReply> Register(RegisterRequest request, ServerCallContext context)
    {
        string node = await AuthenticateAs(request.NodeName, context);
        // Checked before the allowance is spent: a refused declaration writes nothing, and the node's next registration is not held for it.
        if ((NodeText.NameProblem(request.App, "app") ?? NodeText.NameProblem(request.Version, "version")) is { } badName)
            throw new RpcException(new Status(StatusCode.InvalidArgument, badName));
        var datasets = DeclaredDatasets(request);
        if (!writes.TryAdmit(node, out var wait))
        {
            // Refused before anything is written: a refusal leaves no event or audit entry, and its warning is throttled.
            if (throttle.Allow("register-rate:" + node, out long held))
                log.LogWarning("Node {Node} registers too often (from {Peer}): refused for {Wait:0.0}s; {Held} more refusals since the last warning", node, context.Peer, wait.TotalSeconds, held);
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"node '{node}' registered {RegistrationGate.Burst} times in quick succession; it may register again in {Math.Ceiling(wait.TotalSeconds * 10) / 10:0.0}s")));
        }
        await RefuseSecondProcessAsync(node, request.SessionId, context);
        int capacity = Math.Clamp(request.Capacity, 1, MaxCapacity);
        registry.Register(node, request.App, request.Version, context.Peer, request.SessionId, capacity, datasets);
        board.SetCapacity(node, capacity);
        var http = context.GetHttpContext();
        ledger.Append(new AuditEvent(AuditKinds.NodeRegistered, AuditActors.Node(node),
            $"node '{node}' registered from {context.Peer} (app {request.App}, version {request.Version}){AuditActors.CertificateNote(http)}")
        { Node = node });
        // A node that registers again has restarted: whatever it was working on is lost, so it gets
        // those tasks again (same ids) unless the plan allows no offline grace.
        board.NodeLost(node, FailureKind.NodeRestarted, "node restarted while working on the task", offline: false);
        // The node is online from here on; its record and event wait their turn without holding a thread.
        var since = DateTimeOffset.UtcNow;
        string peer = context.Peer;
        await writes.WriteAsync(async () =>
        {
            await store.UpdateNodeAsync(new NodeRecord(node, NodeStatus.Online, since, peer, request.App, request.Version), CancellationToken.None);
            await store.AddEventAsync(null, "node.online", $"node '{node}' registered from {peer} (app {request.App}, version {request.Version}, capacity {capacity})", CancellationToken.None);
        }, context.CancellationToken);
        log.LogInformation("Node {Node} registered from {Peer} with app {App}, capacity {Capacity}{Datasets}", node, context.Peer, request.App, capacity,
            datasets.Count == 0 ? "" : $" and data sets {string.Join(", ", datasets.Select(d => d.Name))}");
        return new RegisterReply
        {
            NodeId = node,
            HeartbeatIntervalMs = (int)options.HeartbeatInterval.TotalMilliseconds,
            ServerVersion = ServerInfo.Version,
        };
    }

    // A node's declarations are names and hashes it chose: bounded and checked like any other input.
    private static IReadOnlyList<DeclaredDataset> DeclaredDatasets(RegisterRequest request)
    {
        if (request.Datasets.Count > DeclaredDataset.MaxPerNode)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"{request.Datasets.Count} data sets declared; at most {DeclaredDataset.MaxPerNode}"));
        var declared = new List<DeclaredDataset>();
        foreach (var d in request.Datasets)
        {
            if (!Apps.DatasetName.IsValid(d.Name))
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"data set name '{(d.Name.Length > 64 ? d.Name[..64] + "…" : d.Name)}' is not valid ({Apps.DatasetName.Rule})"));
            if (d.SchemaHash.Length > DeclaredDataset.MaxHashLength || !d.SchemaHash.All(char.IsAsciiHexDigit))
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"data set '{d.Name}': schema hash must be at most {DeclaredDataset.MaxHashLength} hex digits"));
            if (declared.Any(x => x.Name == d.Name))
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"data set '{d.Name}' declared twice"));
            declared.Add(new DeclaredDataset(d.Name, d.SchemaHash, Math.Max(0, d.Columns)));
        }
        return declared;
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
                ledger.Append(new AuditEvent(AuditKinds.NodeRefused, AuditActors.Address(context.GetHttpContext()), $"{message} (second process at {context.Peer})") { Node = node });
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
        // Older nodes name their one task in busy_task_id; newer ones list every task in busy_task_ids too.
        var busy = request.BusyTaskIds.Append(request.BusyTaskId).Where(id => !string.IsNullOrEmpty(id)).Distinct(StringComparer.Ordinal).Take(MaxCapacity).ToArray();
        RequireCurrentSession(node, request.SessionId, context);
        if (!registry.Touch(node, busy, updateBusy: true, session: request.SessionId)) throw NotRegistered();
        var reply = new HeartbeatReply();
        foreach (var id in busy)
        {
            // A task the node has just answered may still be in its busy list: there is nothing to cancel. Another node's
            // task is cancelled as an unknown one, so that a node cannot learn from the answer which tasks exist.
            if (board.FindOf(id, node) is null && !board.WasAnswered(id, node)) reply.CancelTaskIds.Add(id);
        }
        return reply;
    }

    /// <inheritdoc />
    public override async Task<LeaveReply> Leave(LeaveRequest request, ServerCallContext context)
    {
        string node = await AuthenticateAs(request.NodeName, context);
        if (registry.SessionOf(node) is null) throw NotRegistered();
        // Only the session registered now may take the node offline: a late leave from a process the node has since
        // replaced (a restart whose old process was slow to stop) changes nothing.
        if (registry.Leave(node, request.SessionId) is not { } left)
        {
            log.LogInformation("Node {Node}: leave from session {Session} ignored (not the node's current online session)", node, NodeText.Clean(request.SessionId, 64));
            return new LeaveReply { Left = false };
        }
        // The path of a node timeout (NodeMonitor), at once: the tasks the node held wait for it per the plan's offline grace.
        offline.TasksLost(node, OfflineNodes.LeftReason);
        log.LogInformation("Node {Node} left: offline at once", node);
        ledger.Append(new AuditEvent(AuditKinds.NodeLeft, AuditActors.Node(node), $"node '{node}' left from {context.Peer}") { Node = node });
        var lastSeen = left.LastSeen;
        // Behind the writes of earlier registrations, as the node's next registration will be: its online record lands after this.
        await writes.WriteAsync(() => offline.RecordAsync(node, lastSeen, $"{OfflineNodes.LeftReason} (it stopped and said so)", CancellationToken.None), context.CancellationToken);
        return new LeaveReply { Left = true };
    }

    /// <inheritdoc />
    public override async Task PullTask(PullTaskRequest request, IServerStreamWriter<TaskMessage> responseStream, ServerCallContext context)
    {
        string node = await AuthenticateAs(request.NodeName, context);
        RequireCurrentSession(node, request.SessionId, context);
        if (!registry.Touch(node, session: request.SessionId)) throw NotRegistered();
        var wait = TimeSpan.FromMilliseconds(Math.Clamp(request.WaitMs, 0, (int)MaxWait.TotalMilliseconds));
        // A node keeps one pull per worker (its capacity), kept open or not; twice that and a few more cover calls still
        // closing after a dropped connection or a restart's overlap, and past them each is refused before it waits for
        // anything: a waiting pull holds its request, which may carry up to 64 KiB of fields the server does not know.
        IDisposable open;
        try
        {
            open = calls.Open(request.KeepOpen ? "kept-open task" : "task pull", node, 2 * board.CapacityOf(node) + ExtraCalls, "twice its capacity, and a few more");
        }
        catch (RpcException e)
        {
            if (throttle.Allow("pull-calls:" + node, out long held))
                log.LogWarning("Node {Node} from {Peer}: {Reason} ({Held} more refusals since the last warning)", node, context.Peer, e.Status.Detail, held);
            throw;
        }
        using (open)
        {
            if (!request.KeepOpen)
            {
                var task = await board.TakeAsync(node, wait, context.CancellationToken);
                if (task is not null && request.SessionId.Length > 0 && !registry.IsCurrentSession(node, request.SessionId))
                {
                    // Another process registered as the node while this call waited: the task is that one's.
                    board.Return(task);
                    throw ReplacedSession(node, context);
                }
                if (task is not null) await SendTaskAsync(task, node, keptOpen: false, responseStream, context.CancellationToken);
                return;
            }
            await KeepOpenAsync(request, node, wait < MinKeptOpenWait ? MinKeptOpenWait : wait, responseStream, context);
        }
    }

    // A kept-open call says it is alive no more often than this, whatever wait the node asked for.
    private static readonly TimeSpan MinKeptOpenWait = TimeSpan.FromSeconds(1);

    // Task after task on one call, each once the last is answered, for as long as the node's credentials and registration
    // are those the call began with. The call gives no sign of life for the node (its heartbeats do): a call left behind
    // by a dead connection must not keep it online, nor take the tasks of the node's next session. The registration is the
    // session the node names (checked current when the call began); an older node names none, and its call serves the
    // session current when it began, as before.
    private async Task KeepOpenAsync(PullTaskRequest request, string node, TimeSpan wait, IServerStreamWriter<TaskMessage> responseStream, ServerCallContext context)
    {
        string? session = request.SessionId.Length > 0 ? request.SessionId : registry.SessionOf(node);
        // A server stopping ends its kept-open calls at once, so that it does not wait out its shutdown timeout on them.
        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var ct = call.Token;
        try
        {
            while (true)
            {
                var task = await board.TakeAsync(node, wait, ct);
                if (task is not null && !SameRegistration(node, session))
                {
                    // Taken for a session that has ended: back in line for the node's new call.
                    board.Return(task);
                    return;
                }
                if (task is null)
                {
                    // Nothing for the node yet: an empty message tells it the call is alive.
                    responseStream.WriteOptions = WriteOptions.Default;
                    await responseStream.WriteAsync(new TaskMessage(), ct);
                }
                else
                {
                    await SendTaskAsync(task, node, keptOpen: true, responseStream, ct);
                    // The node's worker reads the next task once it has answered this one: sent sooner, it would wait in
                    // the call while another worker of the node sits idle.
                    var outcome = await task.Completion.Task.WaitAsync(ct);
                    // Failed by the server instead (timed out, withdrawn, stopped): the worker may still be running it. The
                    // call ends, so the next task goes to whichever of the node's workers pulls when free, this one's
                    // new call included, instead of waiting here behind a task nobody wants any more.
                    if (!AnsweredByNode(outcome)) return;
                }
                // Checked again before every turn: a token replaced or a certificate revoked meanwhile ends the call, as it
                // would refuse a new one; a node that registered again or was counted offline pulls on a new call.
                await AuthenticateAs(request.NodeName, context);
                if (!SameRegistration(node, session)) return;
            }
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the server is stopping"));
        }
    }

    // The node's own answer (a result, its app's failure, a refusal, or a result the server rejected): its worker is free.
    private static bool AnsweredByNode(TaskOutcome outcome) =>
        outcome.Ok || outcome.Failure is FailureKind.ClientError or FailureKind.Rejected or FailureKind.Refused or FailureKind.SitePolicy;

    private bool SameRegistration(string node, string? session) => registry.IsOnline(node) && registry.SessionOf(node) == session;

    private async Task SendTaskAsync(PendingTask task, string node, bool keptOpen, IServerStreamWriter<TaskMessage> responseStream, CancellationToken ct)
    {
        var header = new TaskHeader
        {
            TaskId = task.Id,
            RunId = task.RunId,
            Round = task.Round,
            Kind = TaskKinds.ToWire(task.Kind),
            App = task.App,
            TimeoutSeconds = (int)Math.Ceiling(task.Timeout.TotalSeconds),
            Dataset = task.Dataset ?? "",
            KeptOpen = keptOpen,
            HasParameters = task.Parameters is not null,
        };
        ScalarMaps.CopyTo(task.AppSettings, header.AppSettings);
        ScalarMaps.CopyTo(task.Config, header.Config);
        header.Settings = TaskSettingsWire.ToWire(task.Settings);
        if (task.Terms is { } terms)
        {
            // The node checks these against its site policy before it runs anything.
            header.Strategy = terms.Strategy;
            header.Rounds = terms.Rounds;
            header.SecureAggregation = terms.SecureAggregation;
            header.Privacy = terms.Privacy ?? "";
            header.NoiseMultiplier = terms.NoiseMultiplier ?? 0;
            header.Tags.AddRange(terms.Tags);
            header.Submitter = terms.Submitter ?? "";
        }
        ParameterManifest? manifest = null;
        try
        {
            // Header and manifest wait in the send buffer for the first chunk: a small model reaches the node in one
            // flush (one TLS record, one wake-up of the node) instead of three.
            responseStream.WriteOptions = task.Parameters is not null ? Buffered : WriteOptions.Default;
            await responseStream.WriteAsync(new TaskMessage { Header = header }, ct);
            if (task.Parameters is not null) manifest = await SendParametersAsync(task.Parameters, keptOpen, responseStream, ct);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            board.Complete(task, TaskOutcome.Failed(FailureKind.Undeliverable, $"task could not be delivered: {e.Message}"));
            throw;
        }
        ledger.Append(new AuditEvent(AuditKinds.TaskSent, "server", $"{header.Kind} task sent to node '{node}'")
        {
            Run = task.RunId,
            Round = task.Round,
            Node = node,
            Task = task.Id,
            Digest = manifest is null ? null : Convert.ToHexStringLower(manifest.Sha256.Span),
        });
    }

    // Its own method, so that no local of the call's (which outlives it) holds the model sent.
    private async Task<ParameterManifest> SendParametersAsync(ParameterSet parameters, bool keptOpen, IServerStreamWriter<TaskMessage> responseStream, CancellationToken ct)
    {
        var manifest = ParameterEncoder.Manifest(parameters);
        // Parameters of no bytes come with no chunk: on a call kept open the manifest is then the task's last message.
        responseStream.WriteOptions = keptOpen && parameters.ByteCount == 0 ? WriteOptions.Default : Buffered;
        await responseStream.WriteAsync(new TaskMessage { Manifest = manifest }, ct);
        // A model of one chunk stays buffered too and leaves with the call's end (data and trailers in one flush, so the
        // node wakes once for its task), or flushed with that chunk on a call kept open; every chunk of a larger one is
        // flushed, so it is never held whole in the buffer.
        if (keptOpen || parameters.ByteCount > ParameterEncoder.DefaultChunkBytes) responseStream.WriteOptions = WriteOptions.Default;
        foreach (var chunk in ParameterEncoder.Chunks(parameters))
            await responseStream.WriteAsync(new TaskMessage { Chunk = chunk }, ct);
        metrics.BytesOut.Inc(parameters.ByteCount);
        return manifest;
    }

    /// <inheritdoc />
    public override async Task<PushResultReply> PushResult(IAsyncStreamReader<ResultMessage> requestStream, ServerCallContext context)
    {
        using var call = await OpenResultCallAsync(context);
        try
        {
            var reply = await ReceiveAndRecordAsync(requestStream, context);
            await DrainAsync(requestStream, context.CancellationToken);
            return reply;
        }
        catch (IOException e)
        {
            throw CallCut(context, e, midResult: true);
        }
    }

    /// <inheritdoc />
    public override async Task PushResults(IAsyncStreamReader<ResultMessage> requestStream, IServerStreamWriter<PushResultReply> responseStream, ServerCallContext context)
    {
        using var call = await OpenResultCallAsync(context);
        // What is left of a refused result is read and dropped on the way to the next header, up to the largest upload.
        var results = new ResultSequence(requestStream, options.MaxUploadBytes);
        // A server stopping ends the calls that wait between results, so that it does not wait out its shutdown timeout.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        bool between = true;
        try
        {
            while (await NextResultAsync(results, context, idle.Token))
            {
                between = false;
                string taskId = results.Header.TaskId;
                var reply = await ReceiveAndRecordAsync(results, context);
                reply.TaskId = taskId;
                await responseStream.WriteAsync(reply, context.CancellationToken);
                between = true;
            }
        }
        catch (IOException e)
        {
            throw CallCut(context, e, midResult: !between);
        }
    }

    // The node's connection ended under a result call (the node stopped, or the network cut it): the transport's doing, not a
    // fault of the server's to log with a stack trace. Between results nothing is lost, and nothing is logged; within one, a
    // line says so (the task is failed by the node going offline, or answered again by the node's retry).
    private RpcException CallCut(ServerCallContext context, IOException e, bool midResult)
    {
        if (midResult && throttle.Allow("result-cut", out long held))
            log.LogWarning("A result from {Peer} ended before its last chunk: {Reason} ({Held} more since the last line)", context.Peer, e.Message, held);
        return new RpcException(new Status(StatusCode.Cancelled, $"the result call ended: {e.Message}"));
    }

    // A node keeps one result call per task it may hold; past a few more, each further one is refused before it waits for anything.
    private async Task<IDisposable> OpenResultCallAsync(ServerCallContext context)
    {
        string node = await auth.AuthenticateAsync(context);
        try
        {
            return calls.Open("result", node, 2 * board.CapacityOf(node) + ExtraCalls, "twice its capacity, and a few more");
        }
        catch (RpcException e)
        {
            if (throttle.Allow("result-calls:" + node, out long held))
                log.LogWarning("Node {Node} from {Peer}: {Reason} ({Held} more refusals since the last warning)", node, context.Peer, e.Status.Detail, held);
            throw;
        }
    }

    // Calls a node may open beyond what its capacity needs: those still closing after a failure, a restart's overlap.
    private const int ExtraCalls = 4;

    // Between results, as within one: a message that does not decode is the caller's mistake.
    private async Task<bool> NextResultAsync(ResultSequence results, ServerCallContext context, CancellationToken idle)
    {
        try
        {
            return await results.NextAsync(idle);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the server is stopping"));
        }
        catch (InvalidProtocolBufferException e)
        {
            if (throttle.Allow("undecodable-result", out long suppressed))
                log.LogWarning("Refused an undecodable result message from {Peer}: {Error} ({Suppressed} more since the last line)", context.Peer, e.Message, suppressed);
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"undecodable result message: {e.Message}"));
        }
    }

    // One result, from its header on, answered and recorded in the ledger; a refusal that ends the call is thrown.
    private async Task<PushResultReply> ReceiveAndRecordAsync(IAsyncStreamReader<ResultMessage> requestStream, ServerCallContext context)
    {
        var receipt = new ResultReceipt();
        try
        {
            var reply = await ReceiveResultAsync(requestStream, context, receipt);
            Record(receipt, reply.Accepted, reply.Reason);
            return reply;
        }
        catch (RpcException e)
        {
            Record(receipt, false, e.Status.Detail);
            throw;
        }
        catch (InvalidProtocolBufferException e)
        {
            Record(receipt, false, $"undecodable result message: {e.Message}");
            // A result message that does not decode is the caller's mistake, not the server's.
            if (throttle.Allow("undecodable-result", out long suppressed))
                log.LogWarning("Refused an undecodable result message from {Peer}: {Error} ({Suppressed} more since the last line)", context.Peer, e.Message, suppressed);
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"undecodable result message: {e.Message}"));
        }
    }

    // A reply sent before the request was read to its end makes the transport reset the unread rest, and a
    // client still writing may then see its call cancelled instead of the reply (a refusal or a duplicate,
    // answered from the header). A small remainder is read and dropped first, so such a client gets the
    // reply; a large one (or a client that never ends its stream) is cut off after a bound.
    private const int DrainBytes = 1 << 20;

    private static async Task DrainAsync(IAsyncStreamReader<ResultMessage> requestStream, CancellationToken ct)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(TimeSpan.FromSeconds(2));
        long bytes = 0;
        try
        {
            while (bytes <= DrainBytes && await requestStream.MoveNext(bound.Token)) bytes += requestStream.Current.CalculateSize();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidProtocolBufferException or RpcException or InvalidOperationException)
        {
            // What was left is not ours to read: the reply goes out as it is.
        }
    }

    // What the ledger records of a result: every way out of ReceiveResultAsync ends in one entry.
    private sealed class ResultReceipt
    {
        public string? Node;
        public string? TaskId;
        public PendingTask? Task;
        public string? Digest;
        public string? NodeError;
        public bool Duplicate;
    }

    private void Record(ResultReceipt r, bool accepted, string? reason)
    {
        if (r.Node is null || r.TaskId is null || r.Duplicate) return;
        string kind = !accepted ? AuditKinds.ResultRejected : r.NodeError is not null ? AuditKinds.ResultFailed : AuditKinds.ResultAccepted;
        string detail = !accepted ? $"result rejected: {reason}" : r.NodeError is not null ? $"node reported the task failed: {r.NodeError}" : "result accepted";
        if (!accepted && r.Task is null)
        {
            // A result for no task of the node's (unknown, expired, another node's) costs the node nothing to send: at most one
            // such entry per node every ten seconds, the next one counting those left out, so that a node cannot fill the disk.
            if (!throttle.Allow("unknown-task-result:" + r.Node, out long left)) return;
            if (left > 0) detail += $" ({left} more results for no task of this node's since the last such entry, not recorded one by one)";
        }
        ledger.Append(new AuditEvent(kind, AuditActors.Node(r.Node), detail)
        {
            Run = r.Task?.RunId,
            Round = r.Task?.Round,
            Node = r.Node,
            Task = r.TaskId,
            Digest = r.Digest,
        });
    }

    private async Task<PushResultReply> ReceiveResultAsync(IAsyncStreamReader<ResultMessage> requestStream, ServerCallContext context, ResultReceipt receipt)
    {
        string node = await auth.AuthenticateAsync(context);
        var ct = context.CancellationToken;
        using var scope = log.BeginScope(LogScope.Node(node));
        if (!await requestStream.MoveNext(ct) || requestStream.Current.BodyCase != ResultMessage.BodyOneofCase.Header)
            throw new RpcException(new Status(StatusCode.InvalidArgument, "a result stream starts with its header"));
        var header = requestStream.Current.Header;
        // A call keeps its last message until the next arrives, and a node may hold many calls open: a header (metrics,
        // a preflight's findings) is a few kilobytes, and one far larger ends its call, which lets it go.
        if (requestStream.Current.CalculateSize() is var headerBytes && headerBytes > MaxResultHeaderBytes)
        {
            string tooLarge = $"a result header of {headerBytes} bytes; at most {MaxResultHeaderBytes}";
            // The node's own task fails at once with the reason, rather than waiting out the round's timeout.
            if (header.TaskId.Length <= MaxTaskIdLength && header.NodeName == node && registry.IsCurrentSession(node, header.SessionId)
                && board.FindOf(header.TaskId, node) is { } own)
                board.Complete(own, TaskOutcome.Failed(FailureKind.Rejected, $"rejected result: {tooLarge}"));
            throw new RpcException(new Status(StatusCode.InvalidArgument, tooLarge));
        }
        // The server's task ids are a few hundred characters at most; a longer one is no task, and is not echoed or recorded.
        if (header.TaskId.Length > MaxTaskIdLength)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"a task id of {header.TaskId.Length} characters; the server's are at most {MaxTaskIdLength}"));
        receipt.Node = node;
        receipt.TaskId = header.TaskId;
        if (header.NodeName != node)
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"token belongs to node '{node}', not '{NodeText.Clean(header.NodeName, NodeText.MaxNameLength)}'"));
        // A replaced process's result would answer its replacement's task (the same id, given again when it registered).
        RequireCurrentSession(node, header.SessionId, context);
        registry.Touch(node, session: header.SessionId);
        var task = board.Find(header.TaskId);
        if (task is not null && task.Node != node)
        {
            // Answered as an unknown task would be, so that a node cannot probe for other nodes' tasks; the log says what it was.
            if (throttle.Allow("foreign-task:" + node, out long held))
                log.LogWarning("Node {Node} pushed a result for task {Task} of node {Owner}: refused as unknown ({Held} more since the last warning)", node, task.Id, task.Node, held);
            task = null;
        }
        if (task is null && board.WasAnswered(header.TaskId, node))
        {
            // Task ids are idempotency keys: a repeated push of an answered task changes nothing.
            log.LogInformation("Node {Node} task {Task}: duplicate result ignored (task already completed)", node, header.TaskId);
            receipt.Duplicate = true;
            return new PushResultReply { Accepted = true, Reason = "duplicate result ignored: task already completed" };
        }
        if (task is null) return Reject($"task '{header.TaskId}' is unknown, finished or expired");
        receipt.Task = task;
        // A second stream for the same task would only multiply the memory one result may take.
        using var active = uploads.BeginTask(task.Id);
        // A node's own timing: a value that cannot be one is kept as 0 on a failure and refuses a result (below).
        double duration = double.IsFinite(header.DurationSeconds) && header.DurationSeconds >= 0 ? header.DurationSeconds : 0;
        string error = NodeText.Clean(header.Error, NodeText.MaxErrorLength);
        if (!header.Ok && header.RefusedBySitePolicy)
        {
            string reason = $"refused by site policy: {error}";
            // A preflight refusal belongs to no run yet: the submitter hears of it in the preflight's notes.
            if (board.Complete(task, TaskOutcome.Failed(FailureKind.SitePolicy, reason, duration)) && task.Kind != TaskKind.Validate)
            {
                log.LogWarning("Node {Node} refused run {Run} ({Phase}, round {Round}): {Reason}", node, task.RunId, task.Phase, task.Round, reason);
                await store.AddEventAsync(task.RunId, "node.policy_refused", $"node '{node}' {reason} ({task.Phase}, round {task.Round})", ct);
            }
            return new PushResultReply { Accepted = true };
        }
        if (!header.Ok)
        {
            receipt.NodeError = error;
            board.Complete(task, TaskOutcome.Failed(FailureKind.ClientError, $"node error: {error}", duration));
            return new PushResultReply { Accepted = true };
        }

        if (task.Kind == TaskKind.Validate)
        {
            // A preflight answer carries findings, not parameters or metrics.
            if (header.HasParameters)
            {
                board.Complete(task, TaskOutcome.Failed(FailureKind.Rejected, "rejected result: a validation result carries no parameters", duration));
                return Reject("a validation result carries no parameters");
            }
            var problems = header.Problems.Take(Runs.PreflightLimits.MaxProblems).Select(Runs.PreflightLimits.Clip).ToArray();
            var checkedOutcome = new TaskOutcome(true, null, 0, double.NaN, Runs.PreflightLimits.Schema(header.Metrics), null, duration, 0) { Problems = problems };
            return board.Complete(task, checkedOutcome) ? new PushResultReply { Accepted = true } : Reject("task already completed");
        }

        ParameterSet? parameters = null;
        SpooledParameters? spooled = null;
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
                (parameters, spooled, uploadBytes) = await ReceiveParametersAsync(requestStream, node, task, receipt, ct);
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
        // Until the board takes it, a spooled result is ours to release on every way out.
        try
        {
            if (task.Kind is TaskKind.Fit or TaskKind.GetParameters && parameters is null && spooled is null)
            {
                board.Complete(task, TaskOutcome.Failed(FailureKind.Rejected, "rejected result: no parameters", duration));
                return Reject("a fit or get-parameters result must carry parameters");
            }
            var resultMetrics = ScalarMaps.ToMetrics(header.Metrics);
            string? badDuration = duration == header.DurationSeconds ? null : $"duration_seconds is {header.DurationSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
            if ((badDuration ?? (task.Kind == TaskKind.GetParameters ? null
                    : board.Validator.Check(task.RunId, node, task.Phase, header.Examples, header.Loss, resultMetrics, task.Limits))) is { } invalid)
            {
                string reason = $"rejected result: {invalid}";
                board.Complete(task, TaskOutcome.Failed(FailureKind.Rejected, reason, duration, uploadBytes));
                log.LogWarning("Node {Node} task {Task}: {Reason}", node, task.Id, reason);
                return Reject(invalid);
            }
            var outcome = new TaskOutcome(true, null, header.Examples, header.Loss, resultMetrics, parameters, duration, uploadBytes) { Spooled = spooled };
            if (!board.Complete(task, outcome)) return Reject("task already completed");
            spooled = null; // the run's now
            return new PushResultReply { Accepted = true };
        }
        finally
        {
            spooled?.Dispose();
        }
    }

    private async Task<(ParameterSet?, SpooledParameters?, long)> ReceiveParametersAsync(IAsyncStreamReader<ResultMessage> stream, string node, PendingTask task, ResultReceipt receipt, CancellationToken ct)
    {
        // A stalled stream must not hold its reserved memory forever, nor one that outlives its task (a round timeout, the
        // round or the run over), however steadily it trickles in.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _ = task.Completion.Task.ContinueWith(static (_, state) => CancelQuietly((CancellationTokenSource)state!), idle, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        if (!await NextAsync(stream, task, idle, ct) || stream.Current.BodyCase != ResultMessage.BodyOneofCase.Manifest)
            throw new InvalidDataException("parameters announced but no manifest followed");
        var manifest = stream.Current.Manifest;
        if (task.Expected is { } expected) CheckManifest(manifest, expected);
        // A large fit result goes to disk, where the aggregation reads it a block at a time: it holds no
        // memory, so it takes none of the upload budget.
        bool spool = task.Kind == TaskKind.Fit && options.SpoolUploadBytes > 0 && manifest.TotalBytes >= options.SpoolUploadBytes;
        // The assembler checks the manifest and allocates nothing; the budget is taken before any byte is stored.
        using var assembler = NewAssembler(manifest, spool ? SpoolPath(task) : null);
        using var lease = spool ? null : await uploads.ReserveAsync(node, assembler.TotalBytes, ct);
        while (!assembler.IsComplete)
        {
            if (!await NextAsync(stream, task, idle, ct)) throw new InvalidDataException("stream ended before all parameter bytes arrived");
            if (stream.Current.BodyCase != ResultMessage.BodyOneofCase.Chunk) throw new InvalidDataException($"expected a parameter chunk, got {stream.Current.BodyCase}");
            assembler.Add(stream.Current.Chunk);
        }
        if (spool)
        {
            // Checked for non-finite values chunk by chunk as it was written.
            var spooled = assembler.CompleteSpooled();
            receipt.Digest = Convert.ToHexStringLower(manifest.Sha256.Span);
            return (null, spooled, manifest.TotalBytes);
        }
        var parameters = assembler.Complete();
        // The bytes matched the manifest's SHA-256: that is the digest of what this node sent.
        receipt.Digest = Convert.ToHexStringLower(manifest.Sha256.Span);
        if (parameters.FindNonFinite() is { } bad) throw new InvalidDataException(bad);
        return (parameters, null, manifest.TotalBytes);
    }

    private ParameterAssembler NewAssembler(ParameterManifest manifest, string? spoolPath)
    {
        try
        {
            return new ParameterAssembler(manifest, options.MaxUploadBytes, spoolPath);
        }
        catch (IOException e) when (spoolPath is not null)
        {
            // A full disk refuses the upload up front (the spool file is reserved whole), as a full memory budget would.
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"cannot receive the result to {Path.GetDirectoryName(spoolPath)}: {e.Message}"));
        }
    }

    private string SpoolPath(PendingTask task)
    {
        string dir = Path.Combine(Path.GetFullPath(options.DataDir), "spool");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, $"{task.Id}-{Guid.NewGuid():N}.upload");
    }

    private async Task<bool> NextAsync(IAsyncStreamReader<ResultMessage> stream, PendingTask task, CancellationTokenSource idle, CancellationToken ct)
    {
        idle.CancelAfter(options.UploadIdleTimeout);
        try
        {
            return await stream.MoveNext(idle.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new InvalidDataException(task.Completion.Task.IsCompleted
                ? "the task ended (round timeout, or its round or run is over) before its upload did; upload abandoned"
                : $"no upload data for {options.UploadIdleTimeout.TotalSeconds:0}s; upload abandoned");
        }
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The upload was over before its task ended.
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

    // The answer a node gets to a call the server cannot place: it registers again (NodeSession ends its session on it).
    private static RpcException NotRegistered() =>
        new(new Status(StatusCode.FailedPrecondition, "node not registered with this server; register again"));

    // A node's calls after it registered name its session (an older node's name none, and are not checked). A call from
    // another session comes from a process replaced under the node's name while it was counted offline (frozen, or cut off
    // longer than the node timeout): it is refused as unregistered, so that the process registers again, where it is
    // refused as a second process for as long as its replacement is live.
    private void RequireCurrentSession(string node, string session, ServerCallContext context)
    {
        if (session.Length == 0 || registry.IsCurrentSession(node, session)) return;
        if (registry.SessionOf(node) is null) throw NotRegistered();
        throw ReplacedSession(node, context);
    }

    private RpcException ReplacedSession(string node, ServerCallContext context)
    {
        if (throttle.Allow("replaced-session:" + node, out long held))
            log.LogWarning("Node {Node}: refused a call from {Peer} of a session another process has replaced; it must register again ({Held} more since the last warning)", node, context.Peer, held);
        return new RpcException(new Status(StatusCode.FailedPrecondition,
            $"node '{node}' registered from another process since this one did: this process is not registered with this server; register again"));
    }

    private async Task<string> AuthenticateAs(string claimed, ServerCallContext context)
    {
        string node = await auth.AuthenticateAsync(context);
        if (!string.IsNullOrEmpty(claimed) && claimed != node)
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"token belongs to node '{node}', not '{claimed}'"));
        return node;
    }
}
