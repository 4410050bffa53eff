using System.Diagnostics;
using System.Reflection;
using Cohort.Apps;
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
    private volatile string? _busyTask;
    private CancellationTokenSource? _taskCts;

    private NodeSession(GrpcChannel channel, NodeOptions options, TimeSpan heartbeat)
    {
        _channel = channel;
        _client = new Transport.V1.Fleet.FleetClient(channel);
        _options = options;
        _heartbeat = heartbeat;
        _log = options.Logger;
        _pushRetry = PushRetry.Create(_log, options.Name);
    }

    /// <summary>Connects and registers.</summary>
    public static async Task<NodeSession> ConnectAsync(NodeOptions options, string appName, CancellationToken ct)
    {
        var channel = GrpcChannels.Create(options.Connection);
        try
        {
            var client = new Transport.V1.Fleet.FleetClient(channel);
            var reply = await client.RegisterAsync(
                new RegisterRequest { NodeName = options.Name, App = appName, Version = Version, ProtocolVersion = 1, SessionId = options.Session },
                deadline: DateTime.UtcNow.AddSeconds(15), cancellationToken: ct);
            options.Logger.LogInformation("Node {Node} registered with {Server} (server {Version})", options.Name, options.Connection.Server, reply.ServerVersion);
            return new NodeSession(channel, options, TimeSpan.FromMilliseconds(Math.Clamp(reply.HeartbeatIntervalMs, 100, 60_000)));
        }
        catch
        {
            channel.Dispose();
            throw;
        }
    }

    /// <summary>Serves tasks until the connection is lost (throws) or <paramref name="ct"/> is cancelled.</summary>
    public async Task ServeAsync(RunApps apps, CancellationToken ct)
    {
        using var session = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var heartbeats = HeartbeatLoopAsync(session);
        try
        {
            while (!session.IsCancellationRequested)
            {
                await PullAndRunAsync(apps, session.Token);
            }
        }
        finally
        {
            await session.CancelAsync();
            try
            {
                await heartbeats;
            }
            catch (OperationCanceledException)
            {
            }
        }
        ct.ThrowIfCancellationRequested();
        throw new SessionLostException("heartbeats stopped reaching the server");
    }

    private async Task HeartbeatLoopAsync(CancellationTokenSource session)
    {
        int failures = 0;
        using var timer = new PeriodicTimer(_heartbeat);
        while (await timer.WaitForNextTickAsync(session.Token))
        {
            try
            {
                var reply = await _client.HeartbeatAsync(
                    new HeartbeatRequest { NodeName = _options.Name, BusyTaskId = _busyTask ?? "" },
                    deadline: DateTime.UtcNow + _heartbeat * 3, cancellationToken: session.Token);
                failures = 0;
                if (reply.CancelTaskIds.Count > 0 && reply.CancelTaskIds.Contains(_busyTask ?? ""))
                {
                    _log.LogInformation("Node {Node}: server cancelled task {Task}", _options.Name, _busyTask);
                    _taskCts?.Cancel();
                }
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
            {
                // The server restarted and forgot us: end the session so the node registers again.
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
            catch (RpcException)
            {
            }
        }
    }

    private async Task PullAndRunAsync(RunApps apps, CancellationToken ct)
    {
        TaskHeader? header = null;
        ParameterSet? parameters = null;
        using (var call = _client.PullTask(
                   new PullTaskRequest { NodeName = _options.Name, WaitMs = (int)_options.PollWait.TotalMilliseconds },
                   deadline: DateTime.UtcNow + _options.PollWait + TimeSpan.FromSeconds(30), cancellationToken: ct))
        {
            ParameterAssembler? assembler = null;
            try
            {
                await foreach (var message in call.ResponseStream.ReadAllAsync(ct))
                {
                    switch (message.BodyCase)
                    {
                        case TaskMessage.BodyOneofCase.Header:
                            header = message.Header;
                            break;
                        case TaskMessage.BodyOneofCase.Manifest:
                            assembler = new ParameterAssembler(message.Manifest);
                            break;
                        case TaskMessage.BodyOneofCase.Chunk when assembler is not null:
                            assembler.Add(message.Chunk);
                            break;
                    }
                }
                if (assembler is not null) parameters = assembler.Complete();
            }
            finally
            {
                assembler?.Dispose();
            }
        }
        if (header is null) return;
        await RunTaskAsync(apps, header, parameters, ct);
    }

    private async Task RunTaskAsync(RunApps apps, TaskHeader task, ParameterSet? parameters, CancellationToken ct)
    {
        _busyTask = task.TaskId;
        using var taskCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _taskCts = taskCts;
        if (task.TimeoutSeconds > 0) taskCts.CancelAfter(TimeSpan.FromSeconds(task.TimeoutSeconds));
        var header = new ResultHeader { TaskId = task.TaskId, NodeName = _options.Name, Ok = true };
        var clock = Stopwatch.StartNew();
        ClientReply reply;
        try
        {
            reply = task.Kind switch
            {
                Wire.Fit => await RunOnAppAsync(apps, task, ClientKind.Fit, parameters, taskCts.Token),
                Wire.Evaluate => await RunOnAppAsync(apps, task, ClientKind.Evaluate, parameters, taskCts.Token),
                Wire.GetParameters => await RunOnAppAsync(apps, task, ClientKind.GetParameters, parameters, taskCts.Token),
                Wire.Statistics => await RunOnAppAsync(apps, task, ClientKind.Statistics, parameters, taskCts.Token),
                _ => ClientReply.Failed(FailureKind.Refused, $"unknown task kind {task.Kind}; this node may be older than the server"),
            };
        }
        finally
        {
            _taskCts = null;
        }
        // The node itself is stopping: the task is not answered (the server fails it when the node goes).
        ct.ThrowIfCancellationRequested();
        ParameterSet? result = null;
        if (reply.Ok)
        {
            result = task.Kind is Wire.Evaluate or Wire.Statistics ? null : reply.Parameters;
            header.Examples = reply.Examples;
            if (task.Kind == Wire.Evaluate) header.Loss = reply.Loss;
            ScalarMaps.CopyTo(reply.Metrics, header.Metrics);
        }
        else
        {
            header.Ok = false;
            header.Error = reply.Error;
            _log.LogWarning("Node {Node}: task {Task} failed ({Kind}): {Error}", _options.Name, task.TaskId, reply.Failure, reply.Error);
        }
        header.DurationSeconds = clock.Elapsed.TotalSeconds;
        header.HasParameters = result is not null;
        await PushAsync(header, result, ct);
        _busyTask = null;
    }

    private async Task<ClientReply> RunOnAppAsync(RunApps apps, TaskHeader task, ClientKind kind, ParameterSet? parameters, CancellationToken ct)
    {
        if (!apps.Serves(task.App)) return ClientReply.Failed(FailureKind.Refused, $"this node runs app '{apps.AppName}', the run needs '{task.App}'");
        IClientApp app;
        try
        {
            app = apps.For(task.RunId, task.App, ScalarMaps.ToConfig(task.AppSettings));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The app could not be created (bad settings, unreadable data): this task fails, the node stays.
            return ClientReply.Failed(FailureKind.ClientError, e.Message);
        }
        var clientTask = new ClientTask(task.RunId, _options.Name, task.Round, kind, ScalarMaps.ToConfig(task.Config), parameters);
        return await apps.Runner.RunAsync(app, clientTask, ct);
    }

    private async Task PushAsync(ResultHeader header, ParameterSet? parameters, CancellationToken ct)
    {
        var reply = await _pushRetry.ExecuteAsync(async token => await PushOnceAsync(header, parameters, token), ct);
        if (!reply.Accepted) _log.LogWarning("Node {Node}: server did not accept the result of {Task}: {Reason}", _options.Name, header.TaskId, reply.Reason);
    }

    private async Task<PushResultReply> PushOnceAsync(ResultHeader header, ParameterSet? parameters, CancellationToken ct)
    {
        using var call = _client.PushResult(cancellationToken: ct);
        await call.RequestStream.WriteAsync(new ResultMessage { Header = header }, ct);
        if (parameters is not null)
        {
            await call.RequestStream.WriteAsync(new ResultMessage { Manifest = ParameterEncoder.Manifest(parameters) }, ct);
            foreach (var chunk in ParameterEncoder.Chunks(parameters))
                await call.RequestStream.WriteAsync(new ResultMessage { Chunk = chunk }, ct);
        }
        await call.RequestStream.CompleteAsync();
        return await call.ResponseAsync;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _channel.Dispose();
        return ValueTask.CompletedTask;
    }
}
