using System.Net;
using System.Net.Sockets;
using Cohort.Node;
using Cohort.Transport.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cohort.Integration.Tests;

/// <summary>The node's result push retries failures in transit and never a refusal.</summary>
public sealed class PushRetryTests
{
    [Fact]
    public async Task A_push_to_an_unreachable_server_is_retried_with_backoff_then_fails_as_unavailable()
    {
        // A loopback port nobody listens on: every call fails in transit (connection refused).
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var client = new Fleet.FleetClient(channel);
        var pipeline = PushRetry.Create(NullLogger.Instance, "n1", TimeSpan.FromMilliseconds(10));
        int attempts = 0;

        var e = await Assert.ThrowsAsync<RpcException>(async () => await pipeline.ExecuteAsync(async ct =>
        {
            attempts++;
            using var call = client.PushResult(cancellationToken: ct);
            await call.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = "t1", NodeName = "n1" } }, ct);
            await call.RequestStream.CompleteAsync();
            return await call.ResponseAsync;
        }, CancellationToken.None));

        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Equal(1 + PushRetry.MaxRetries, attempts);
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument)]
    [InlineData(StatusCode.FailedPrecondition)]
    [InlineData(StatusCode.PermissionDenied)]
    [InlineData(StatusCode.Internal)]
    public async Task A_push_the_server_refused_is_not_retried(StatusCode code)
    {
        var pipeline = PushRetry.Create(NullLogger.Instance, "n1", TimeSpan.FromMilliseconds(10));
        int attempts = 0;

        var e = await Assert.ThrowsAsync<RpcException>(async () => await pipeline.ExecuteAsync<PushResultReply>(_ =>
        {
            attempts++;
            throw new RpcException(new Status(code, "refused"));
        }, CancellationToken.None));

        Assert.Equal(code, e.StatusCode);
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task A_connection_reset_is_retried_until_the_push_goes_through()
    {
        var pipeline = PushRetry.Create(NullLogger.Instance, "n1", TimeSpan.FromMilliseconds(10));
        int attempts = 0;

        var reply = await pipeline.ExecuteAsync(_ =>
        {
            if (++attempts < 3) throw new RpcException(new Status(StatusCode.Internal, "Error reading next message. IOException: Connection reset by peer"));
            return ValueTask.FromResult(new PushResultReply { Accepted = true });
        }, CancellationToken.None);

        Assert.True(reply.Accepted);
        Assert.Equal(3, attempts);
    }
}
