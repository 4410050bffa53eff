using System.Diagnostics;
using System.Reflection;
using Cohort.Apps;
using Cohort.Audit;
using Cohort.Clients;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Transport.Channels;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ClientKind = Cohort.Clients.TaskKind;
using Wire = Cohort.Transport.V1.TaskKind;

namespace Cohort.Node;

/// <summary>One connection's worth of node life: registered, heartbeating, pulling and answering tasks.</summary>
internal sealed class NodeSession : IAsyncDisposable
{
    private static readonly string Version =
        typeof(NodeSession).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private readonly GrpcChannel _channel;
    private readonly Transport.V1.Fleet.FleetClient _client;
    private readonly NodeOptions _options;
    private readonly TimeSpan _heartbeat;
    private readonly ILogger _log;
    private readonly Polly.ResiliencePipeline _pushRetry;
    private readonly AuditLedger? _ledger;
    private readonly ValidateAuditLimit? _validateAudit;
    private readonly ResultCalls _results;
    // The tasks this node is working on, each with the source that cancels it when the server says so.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, CancellationTokenSource> _busy = new(StringComparer.Ordinal);

    private NodeSession(GrpcChannel channel, NodeOptions options, TimeSpan heartbeat, AuditLedger? ledger, ValidateAuditLimit? validateAudit)
    {
        _ledger = ledger;
        _validateAudit = validateAudit;
        _channel = channel;
        _client = new Transport.V1.Fleet.FleetClient(channel);
        _options = options;
        _heartbeat = heartbeat;
        _log = options.Logger;
        _pushRetry = PushRetry.Create(_log, options.Name);
        _results = new ResultCalls(_client);
    }

    /// <summary>Connects and registers.</summary>
    public static async Task<NodeSession> ConnectAsync(NodeOptions options, string appName, AuditLedger? ledger, ValidateAuditLimit? validateAudit, IReadOnlyList<DatasetInfo> datasets, CancellationToken ct)
    {
        var channel = GrpcChannels.Create(options.Connection);
        try
        {
            var client = new Transport.V1.Fleet.FleetClient(channel);
            var request = new RegisterRequest { NodeName = options.Name, App = appName, Version = Version, ProtocolVersion = 1, SessionId = options.Session, Capacity = options.Capacity };
            request.Datasets.AddRange(datasets);
            var reply = await client.RegisterAsync(request,
                deadline: DateTime.UtcNow.AddSeconds(15), cancellationToken: ct);
            options.Logger.LogInformation("Node {Node} registered with {Server} (server {Version})", options.Name, options.Connection.Server, reply.ServerVersion);
            return new NodeSession(channel, options, TimeSpan.FromMilliseconds(Math.Clamp(reply.HeartbeatIntervalMs, 100, 60_000)), ledger, validateAudit);
        }
        catch
        {
            channel.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Serves tasks until the connection is lost (throws) or <paramref name="ct"/> is cancelled: as many
    /// workers as the node's capacity each pull a task, run it and push its result, over and over.
    /// </summary>
    public async Task ServeAsync(RunApps apps, CancellationToken ct)
    {
        using var session = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var heartbeats = HeartbeatLoopAsync(session);
        var workers = Enumerable.Range(0, Math.Max(1, _options.Capacity)).Select(_ => WorkAsync(apps, session.Token)).ToArray();
        try
        {
            // The first worker to stop (the session was lost or cancelled) ends the session for all.
            await await Task.WhenAny(workers);
        }
        finally
        {
            await session.CancelAsync();
            foreach (var other in workers.Append(heartbeats))
            {
                try
                {
                    await other;
                }
                catch (Exception e) when (e is OperationCanceledException or RpcException or IOException or HttpRequestException or SessionLostException or InvalidDataException)
                {
                    // The session is over; the first failure is the one reported.
                }
            }
            // Stopping cleanly, with the work in hand abandoned or answered: the server hears it now, not after its node timeout.
            if (ct.IsCancellationRequested) await LeaveAsync();
        }
        ct.ThrowIfCancellationRequested();
        throw new SessionLostException("heartbeats stopped reaching the server");
    }

    private async Task WorkAsync(RunApps apps, CancellationToken ct)
    {
        // Off the caller's thread: workers run side by side.
        await Task.Yield();
        while (!ct.IsCancellationRequested) await PullAndRunAsync(apps, ct);
    }

    private async Task HeartbeatLoopAsync(CancellationTokenSource session)
    {
        int failures = 0;
        var lastLogged = DateTimeOffset.MinValue;
        using var timer = new PeriodicTimer(_heartbeat);
        while (await timer.WaitForNextTickAsync(session.Token))
        {
            try
            {
                var busy = _busy.Keys.Order(StringComparer.Ordinal).ToArray();
                var request = new HeartbeatRequest { NodeName = _options.Name, BusyTaskId = busy.FirstOrDefault() ?? "", SessionId = _options.Session };
                request.BusyTaskIds.AddRange(busy);
                var reply = await _client.HeartbeatAsync(request, deadline: DateTime.UtcNow + _heartbeat * 3, cancellationToken: session.Token);
                failures = 0;
                foreach (var id in reply.CancelTaskIds)
                {
                    // Said once: an app that does not watch its CancellationToken keeps the task busy, and the server asks again.
                    if (!_busy.TryGetValue(id, out var cancel) || cancel.IsCancellationRequested) continue;
                    _log.LogInformation("Node {Node}: server cancelled task {Task}; the app is asked to stop through its CancellationToken", _options.Name, id);
                    try
                    {
                        await cancel.CancelAsync();
                    }
                    catch (ObjectDisposedException)
                    {
                        // The task ended meanwhile.
                    }
                }
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
            {
                // The server restarted and forgot us, or another process registered under our name while we were counted
                // offline (frozen, cut off): end the session so the node registers again, which the server refuses as a
                // second process while that one is live.
                _log.LogInformation("Node {Node}: server asks to register again", _options.Name);
                await session.CancelAsync();
                return;
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled && ++failures >= 3)
            {
                _log.LogWarning("Node {Node}: heartbeats failing ({Status}); reconnecting", _options.Name, e.StatusCode);
                await session.CancelAsync();
                return;
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
            {
                // One missed heartbeat is no reason to reconnect yet, but whoever runs the node should see why they
                // fail: logged at most once per HeartbeatLogInterval, so a flapping link does not flood the log.
                if (DateTimeOffset.UtcNow - lastLogged >= HeartbeatLogInterval)
                {
                    lastLogged = DateTimeOffset.UtcNow;
                    _log.LogWarning("Node {Node}: heartbeat failed ({Status}: {Detail}); {Failures} in a row", _options.Name, e.StatusCode, e.Status.Detail, failures);
                }
            }
            catch (RpcException)
            {
                // Cancelled: the session is ending.
            }
        }
    }

    /// <summary>The least time between two log lines about failed heartbeats.</summary>
    private static readonly TimeSpan HeartbeatLogInterval = TimeSpan.FromSeconds(30);

    // One call carries task after task (PullTaskRequest.keep_open); a server that ends it after one task, or sends
    // none within the wait, gets a new call on the next turn of the worker's loop.
    private async Task PullAndRunAsync(RunApps apps, CancellationToken ct)
    {
        // Not a deadline, which would bound the model's transfer too (a model of gigabytes takes longer than
        // any fixed one): the call is given up when the server stays silent that long while a task is awaited,
        // re-armed at every message and paused while a task runs.
        var silence = _options.PollWait + TimeSpan.FromSeconds(30);
        using var quiet = CancellationTokenSource.CreateLinkedTokenSource(ct);
        quiet.CancelAfter(silence);
        using var call = _client.PullTask(
            new PullTaskRequest { NodeName = _options.Name, WaitMs = (int)_options.PollWait.TotalMilliseconds, KeepOpen = true, SessionId = _options.Session },
            cancellationToken: quiet.Token);
        for (bool carried = false; ; carried = true)
        {
            TaskHeader? header;
            ParameterSet? parameters;
            string? digest;
            bool open;
            ClientReply? refused;
            try
            {
                (header, parameters, digest, open, refused) = await ReceiveTaskAsync(call.ResponseStream, quiet, silence, ct);
            }
            catch (RpcException e) when (carried && !ct.IsCancellationRequested)
            {
                // A call that sat idle while a task ran may be cut by the network (a proxy's idle timeout, a NAT that moved):
                // the next turn opens a new one. Only a new call that fails ends the session.
                _log.LogDebug("Node {Node}: task call ended ({Status}); opening another", _options.Name, e.StatusCode);
                return;
            }
            if (header is null) return;
            // Complete() checked the bytes against the manifest's SHA-256: the digest is that of what arrived.
            Record(header, new AuditEvent(AuditKinds.TaskReceived, Server, $"{header.Kind} task received (app {header.App})")
            {
                Run = header.RunId,
                Round = header.Round,
                Node = _options.Name,
                Task = header.TaskId,
                Digest = parameters is null ? null : digest,
            });
            // The server sends nothing on this call while the task runs, however long it takes.
            quiet.CancelAfter(Timeout.InfiniteTimeSpan);
            await RunTaskAsync(apps, header, parameters, refused, ct);
            if (!open) return;
            quiet.CancelAfter(silence);
        }
    }

    // Reads one task: its header, then its parameters when it has them. On a call kept open the header says whether
    // they follow and the task ends with their last byte; otherwise the task is what the call carried until it ended.
    // Parameters the node refuses (over its limits, or not what their manifest says) fail the task, not the node: the
    // task comes back with why, and the call, whose remaining bytes the node will not read, is given up.
    private async Task<(TaskHeader? Header, ParameterSet? Parameters, string? Digest, bool Open, ClientReply? Refused)> ReceiveTaskAsync(
        IAsyncStreamReader<TaskMessage> stream, CancellationTokenSource quiet, TimeSpan silence, CancellationToken ct)
    {
        TaskHeader? header = null;
        string? digest = null;
        ParameterAssembler? assembler = null;
        try
        {
            while (await stream.MoveNext(quiet.Token))
            {
                quiet.CancelAfter(silence);
                var message = stream.Current;
                switch (message.BodyCase)
                {
                    case TaskMessage.BodyOneofCase.Header:
                        header = message.Header;
                        if (header.KeptOpen && !header.HasParameters) return (header, null, null, true, null);
                        break;
                    case TaskMessage.BodyOneofCase.Manifest:
                        // Before anything is allocated for it: a model over the node's limits costs it nothing.
                        if (ModelLimits.Refusal(message.Manifest, _options) is { } tooLarge)
                        {
                            if (header is null) throw new InvalidDataException(tooLarge.Error);
                            return (header, null, null, false, tooLarge);
                        }
                        // The last task's model is garbage by now: gone from memory before this one arrives.
                        ModelMemory.ReclaimBefore(message.Manifest.TotalBytes);
                        // From its own server: received straight into the tensors, the model costs the node once.
                        assembler = new ParameterAssembler(message.Manifest, ModelLimits.MaxBytes(_options), intoTensors: true);
                        digest = Convert.ToHexStringLower(message.Manifest.Sha256.Span);
                        // Parameters of no bytes at all come with no chunk.
                        if (header is { KeptOpen: true } && assembler.IsComplete) return (header, assembler.Complete(), digest, true, null);
                        break;
                    case TaskMessage.BodyOneofCase.Chunk when assembler is not null:
                        assembler.Add(message.Chunk);
                        if (header is { KeptOpen: true } && assembler.IsComplete) return (header, assembler.Complete(), digest, true, null);
                        break;
                }
            }
            return (header, assembler?.Complete(), digest, false, null);
        }
        catch (InvalidDataException e) when (header is not null)
        {
            // A manifest that cannot be used, chunks out of order, bytes whose SHA-256 is not the manifest's: this task
            // fails with the reason. Without a header there is no task to answer, and the session ends instead.
            return (header, null, null, false, ClientReply.Failed(FailureKind.Refused, $"the parameters the server sent cannot be used: {e.Message}"));
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled } && quiet.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // What the deadline used to answer: the caller reconnects as after any failed call.
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"the server sent nothing for {silence.TotalSeconds:0}s while a task was pulled"));
        }
        finally
        {
            assembler?.Dispose();
        }
    }

    private async Task RunTaskAsync(RunApps apps, TaskHeader task, ParameterSet? parameters, ClientReply? refused, CancellationToken ct)
    {
        using var taskCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _busy[task.TaskId] = taskCts;
        try
        {
            await RunAndPushAsync(apps, task, parameters, refused, taskCts, ct);
        }
        finally
        {
            _busy.TryRemove(task.TaskId, out _);
        }
    }

    private async Task RunAndPushAsync(RunApps apps, TaskHeader task, ParameterSet? parameters, ClientReply? refused, CancellationTokenSource taskCts, CancellationToken ct)
    {
        if (task.TimeoutSeconds > 0) taskCts.CancelAfter(TaskTimeout(task.TimeoutSeconds));
        var header = new ResultHeader { TaskId = task.TaskId, NodeName = _options.Name, Ok = true, SessionId = _options.Session };
        var clock = Stopwatch.StartNew();
        if (task.Kind == Wire.Validate)
        {
            // The preflight: findings travel as problems of a successful answer; a failed answer means the check itself could not run.
            // A run outside the site's policy is refused as its other tasks would be; its settings are not checked against the data.
            if ((PolicyRefusal(task) ?? refused) is { } turnedDown)
            {
                header.Ok = false;
                header.Error = turnedDown.Error;
                header.RefusedBySitePolicy = turnedDown.Failure == FailureKind.SitePolicy;
            }
            else
            {
                try
                {
                    var problems = await Task.Run(() => apps.Validate(task.RunId, task.App, ScalarMaps.ToConfig(task.AppSettings), Dataset(task), task.Strategy), taskCts.Token);
                    header.Problems.AddRange(problems);
                    // The shape of the data, never its content: the server compares it across the run's nodes.
                    if (apps.Describe(Dataset(task)) is { Columns.Count: > 0 } schema)
                        ScalarMaps.CopyTo(new Records.Metrics([KeyValuePair.Create(Apps.SchemaMetrics.Hash, Records.Scalar.Of(schema.Hash)), KeyValuePair.Create(Apps.SchemaMetrics.Columns, Records.Scalar.Of((long)schema.Columns.Count))]), header.Metrics);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    header.Ok = false;
                    header.Error = "check cancelled or timed out";
                }
            }
            ct.ThrowIfCancellationRequested();
            header.DurationSeconds = clock.Elapsed.TotalSeconds;
            await PushAsync(task, header, null, ct);
            return;
        }
        var reply = (PolicyRefusal(task) ?? refused) is { } refusal ? refusal : task.Kind switch
        {
            Wire.Fit => await RunOnAppAsync(apps, task, ClientKind.Fit, parameters, taskCts.Token),
            Wire.Evaluate => await RunOnAppAsync(apps, task, ClientKind.Evaluate, parameters, taskCts.Token),
            Wire.GetParameters => await RunOnAppAsync(apps, task, ClientKind.GetParameters, parameters, taskCts.Token),
            Wire.Statistics => await RunOnAppAsync(apps, task, ClientKind.Statistics, parameters, taskCts.Token),
            _ => ClientReply.Failed(FailureKind.Refused, $"unknown task kind {task.Kind}; this node may be older than the server"),
        };
        // The node itself is stopping: the task is not answered, and the server gives it to this node again if it returns in time.
        if (ct.IsCancellationRequested)
        {
            _log.LogWarning("Node {Node}: stopping with task {Task} unanswered ({Kind}, run {Run}, round {Round}); the server gives it to this node again if it is back before the round ends (or its plan's failure.offline_grace), else fails it",
                _options.Name, task.TaskId, task.Kind, task.RunId, task.Round);
            ct.ThrowIfCancellationRequested();
        }
        ParameterSet? result = null;
        if (reply.Ok)
        {
            result = task.Kind is Wire.Evaluate or Wire.Statistics ? null : reply.Parameters;
            header.Examples = reply.Examples;
            if (task.Kind == Wire.Evaluate) header.Loss = reply.Loss;
            ScalarMaps.CopyTo(reply.Metrics, header.Metrics);
        }
        else if (reply.Failure == FailureKind.SitePolicy)
        {
            header.Ok = false;
            header.Error = reply.Error;
            header.RefusedBySitePolicy = true;
            _log.LogWarning("Node {Node}: refused task {Task} of run {Run}: site policy: {Reason}", _options.Name, task.TaskId, task.RunId, reply.Error);
        }
        else
        {
            header.Ok = false;
            header.Error = reply.Error;
            if (reply.Fault is { } fault) _log.LogError(fault, "Node {Node}: task {Task} failed inside Cohort (a defect; please report it)", _options.Name, task.TaskId);
            // The app's exception goes with the line (its stack trace, for the app's author); only the message goes to the server.
            else _log.LogWarning(reply.AppFault, "Node {Node}: task {Task} failed ({Kind}): {Error}", _options.Name, task.TaskId, reply.Failure, reply.Error);
        }
        header.DurationSeconds = clock.Elapsed.TotalSeconds;
        header.HasParameters = result is not null;
        await PushAsync(task, header, result, ct);
    }

    // A timer waits at most 2^32 - 2 ms (49.7 days); a longer timeout from the server is as good as that one.
    private static TimeSpan TaskTimeout(int seconds) => TimeSpan.FromMilliseconds(Math.Min(seconds * 1000.0, uint.MaxValue - 1.0));

    // Checked before the app is created or sees anything of the task: a run outside the site's policy never touches its data.
    private ClientReply? PolicyRefusal(TaskHeader task)
    {
        if (_options.Policy is not { } policy) return null;
        var terms = new Plans.RunTerms
        {
            Strategy = task.Strategy,
            Rounds = task.Rounds,
            SecureAggregation = task.SecureAggregation,
            Privacy = task.Privacy.Length == 0 ? null : task.Privacy,
            NoiseMultiplier = task.Privacy.Length == 0 ? null : task.NoiseMultiplier,
            Tags = [.. task.Tags],
            Submitter = task.Submitter.Length == 0 ? null : task.Submitter,
            Dataset = Dataset(task),
        };
        var config = ScalarMaps.ToConfig(task.Config);
        var appSettings = ScalarMaps.ToConfig(task.AppSettings);
        if ((policy.Refusal(task.RunId, task.App, terms, config, appSettings) ?? AppliedPrivacyRefusal(policy, task)) is not { } reason) return null;
        // The preflight comes before the run has an id a site that approves runs by id could list: such a site is asked
        // whether it would take the run once approved, and its approval (or the lack of it) decides at the run's first task.
        if (task.Kind == Wire.Validate && (policy.Runs.Count > 0 || !policy.AllowServerStart))
        {
            if ((policy with { Runs = [task.RunId] }).Refusal(task.RunId, task.App, terms, config, appSettings) is not { } unapprovable) return null;
            reason = unapprovable;
        }
        return ClientReply.Failed(FailureKind.SitePolicy, reason);
    }

    // The run's terms are what the server says; the local differential privacy the node applies is what the task's
    // settings carry. A site that requires privacy or a least σ checks the latter too: a run that claims local privacy
    // must carry it, at the site's least σ. (Central privacy is applied by the server: the node can only take its word.)
    // A preflight task carries no settings: the run's first task is checked.
    private static string? AppliedPrivacyRefusal(Sites.SitePolicy policy, TaskHeader task)
    {
        if (task.Kind == Wire.Validate || (!policy.RequireDifferentialPrivacy && policy.MinNoiseMultiplier is null)) return null;
        var applied = task.Settings?.LocalPrivacy;
        if (applied is null)
        {
            return task.Privacy == "local"
                ? "the run claims local differential privacy, but its task carries none for the node to apply (require_differential_privacy, min_noise_multiplier)"
                : null;
        }
        if (policy.MinNoiseMultiplier is { } minSigma && !(applied.NoiseMultiplier >= minSigma))
        {
            return $"local differential privacy applied with noise multiplier {applied.NoiseMultiplier.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} below the site's min_noise_multiplier {minSigma.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}"
                + (task.Privacy.Length > 0 ? $" (the run claims {task.Privacy} privacy with {task.NoiseMultiplier.ToString("R", System.Globalization.CultureInfo.InvariantCulture)})" : "");
        }
        if (policy.RequireDifferentialPrivacy && !(applied.NoiseMultiplier > 0))
            return "local differential privacy applied without noise (noise multiplier 0; require_differential_privacy)";
        if (task.Privacy == "local" && !(applied.NoiseMultiplier >= task.NoiseMultiplier))
            return $"local differential privacy applied with noise multiplier {applied.NoiseMultiplier.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} below the {task.NoiseMultiplier.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} the run claims";
        return null;
    }

    private async Task<ClientReply> RunOnAppAsync(RunApps apps, TaskHeader task, ClientKind kind, ParameterSet? parameters, CancellationToken ct)
    {
        if (!apps.Serves(task.App)) return ClientReply.Failed(FailureKind.Refused, $"this node runs app '{apps.AppName}', the run needs '{task.App}'");
        Cohort.Clients.TaskSettings settings;
        try
        {
            settings = TaskSettingsWire.FromWire(task.Settings);
        }
        catch (InvalidDataException e)
        {
            // Settings the node cannot honour (privacy it cannot apply) must not let an update leave unprotected.
            return ClientReply.Failed(FailureKind.Refused, e.Message);
        }
        RunApps.AppLease lease;
        try
        {
            lease = await apps.AcquireAsync(task.RunId, task.App, ScalarMaps.ToConfig(task.AppSettings), Dataset(task), ct);
        }
        catch (OperationCanceledException)
        {
            // Cancelled (by the server, its time ran out, or the node stops) while another task held the run's app.
            return ClientReply.Failed(FailureKind.Cancelled, "task cancelled before it started");
        }
        catch (Exception e)
        {
            // The app could not be created (bad settings, unreadable data): this task fails, the node stays.
            return ClientReply.AppFailed(e);
        }
        using (lease)
        {
            var clientTask = new ClientTask(task.RunId, _options.Name, task.Round, kind, ScalarMaps.ToConfig(task.Config), parameters)
            {
                Settings = settings,
            };
            return await apps.Runner.RunAsync(lease.App, clientTask, ct);
        }
    }

    private static string? Dataset(TaskHeader task) => task.Dataset.Length == 0 ? null : task.Dataset;

    private string Server => $"server:{_options.Connection.Server}";

    // A validate task's entries go through their limit: the server may send those as fast as the node answers.
    private void Record(TaskHeader task, AuditEvent e)
    {
        if (task.Kind == Wire.Validate && _validateAudit is not null) _validateAudit.Append(e);
        else _ledger?.Append(e);
    }

    private async Task PushAsync(TaskHeader task, ResultHeader header, ParameterSet? parameters, CancellationToken ct)
    {
        header.Error = ResultText.Cap(header.Error);
        ResultText.Cap(header.Problems);
        var manifest = parameters is null ? null : ParameterEncoder.Manifest(parameters);
        var reply = await _pushRetry.ExecuteAsync(async token => await _results.PushAsync(header, parameters, manifest, token), ct);
        if (!reply.Accepted) _log.LogWarning("Node {Node}: server did not accept the result of {Task}: {Reason}", _options.Name, header.TaskId, reply.Reason);
        string what = header.Ok ? "result sent" : $"failure reported ({header.Error})";
        Record(task, new AuditEvent(AuditKinds.ResultSent, Server, reply.Accepted ? $"{what}; server accepted it" : $"{what}; server did not accept it: {reply.Reason}")
        {
            Run = task.RunId,
            Round = task.Round,
            Node = _options.Name,
            Task = task.TaskId,
            Digest = manifest is null ? null : Convert.ToHexStringLower(manifest.Sha256.Span),
        });
    }

    /// <summary>How long a stopping node waits for the server to take its leave.</summary>
    private static readonly TimeSpan LeaveDeadline = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Tells the server this process is leaving, so that it counts the node offline at once. Best effort: a server that is
    /// down, slow or too old to know the call neither holds up nor fails the stop, and its node timeout then does the same.
    /// </summary>
    private async Task LeaveAsync()
    {
        try
        {
            var reply = await _client.LeaveAsync(new LeaveRequest { NodeName = _options.Name, SessionId = _options.Session },
                deadline: DateTime.UtcNow + LeaveDeadline, cancellationToken: CancellationToken.None);
            if (reply.Left) _log.LogInformation("Node {Node}: left {Server}", _options.Name, _options.Connection.Server);
        }
        catch (Exception e) when (e is RpcException or IOException or HttpRequestException or OperationCanceledException)
        {
            _log.LogDebug("Node {Node}: the server did not take its leave ({Error}); its node timeout counts the node offline", _options.Name, e.Message);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _results.Dispose();
        _channel.Dispose();
        return ValueTask.CompletedTask;
    }
}
