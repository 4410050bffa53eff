using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Cohort.Integration.Tests.Infrastructure;

/// <summary>A hand-driven node: registers, heartbeats in the background and speaks the Fleet protocol message by message.</summary>
public sealed class RawNode : IAsyncDisposable
{
    private readonly GrpcChannel _channel;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _heartbeats;

    private RawNode(GrpcChannel channel, string name)
    {
        _channel = channel;
        Name = name;
        Fleet = new Fleet.FleetClient(channel);
        _heartbeats = Task.Run(BeatAsync);
    }

    /// <summary>The node's name.</summary>
    public string Name { get; }

    /// <summary>The Fleet API client (with the node's token).</summary>
    internal Fleet.FleetClient Fleet { get; }

    /// <summary>Registers <paramref name="name"/> with <paramref name="token"/> and starts heartbeating.</summary>
    public static async Task<RawNode> RegisterAsync(Uri server, string caFile, string name, string token)
    {
        var channel = GrpcChannels.Create(new ConnectionOptions(server.ToString(), token, caFile));
        var fleet = new Fleet.FleetClient(channel);
        await fleet.RegisterAsync(new RegisterRequest { NodeName = name, App = "empty", Version = "test", ProtocolVersion = 1 });
        return new RawNode(channel, name);
    }

    /// <summary>Pulls until a task of <paramref name="kind"/> arrives (others are reported failed), within a deadline.</summary>
    internal async Task<TaskHeader> PullAsync(TaskKind kind, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            using var pull = Fleet.PullTask(new PullTaskRequest { NodeName = Name, WaitMs = 1000 });
            TaskHeader? task = null;
            await foreach (var m in pull.ResponseStream.ReadAllAsync())
            {
                if (m.BodyCase == TaskMessage.BodyOneofCase.Header) task = m.Header;
            }
            if (task is null) continue;
            if (task.Kind == kind) return task;
            using var push = Fleet.PushResult();
            await push.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = task.TaskId, NodeName = Name, Ok = false, Error = "not this one" } });
            await push.RequestStream.CompleteAsync();
            await push.ResponseAsync;
        }
        throw new TimeoutException($"no {kind} task within {timeout}");
    }

    private async Task BeatAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = Name }, cancellationToken: _stop.Token);
                await Task.Delay(200, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or RpcException)
            {
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _heartbeats;
        _channel.Dispose();
        _stop.Dispose();
    }
}
