using System.Net.Sockets;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Cohort.Integration.Tests;

/// <summary>A node's connection cut under its result call (the node stopped, the network dropped) is no server fault to log with a stack trace.</summary>
public sealed class ResultCallCutTests
{
    [Fact]
    public async Task Result_calls_whose_connection_is_cut_between_or_within_results_leave_no_error_or_stack_trace_in_the_log()
    {
        await using var server = await ServerProcess.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("cut", default);
        await using var node = await RawNode.RegisterAsync(server.Address, server.CaFile, "cut", token);
        int before = server.Process.Output.Length;

        for (int i = 0; i < 20; i++)
        {
            Socket? socket = null;
            using var handler = new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
                ConnectCallback = async (context, ct) =>
                {
                    socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            };
            using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { HttpHandler = handler });
            var fleet = new Fleet.FleetClient(channel);
            var headers = new Metadata { { "authorization", $"Bearer {token}" } };
            var call = fleet.PushResults(headers);
            // One result answered (an unknown task), so the call is the server's and waits for the next header...
            await call.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = "no-such-task", NodeName = "cut", Ok = false, Error = "x" } });
            Assert.True(await call.ResponseStream.MoveNext());
            if (i % 2 == 1)
            {
                // ...or, every other time, a second result has begun: its header promises more than arrives.
                await call.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = "no-such-task-2", NodeName = "cut", Ok = true } });
            }
            // The connection is cut, without a stream reset or a goodbye.
            socket!.Shutdown(SocketShutdown.Both);
            socket.Close();
            call.Dispose();
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        string written = server.Process.Output[before..];
        Assert.DoesNotContain("   at ", written);
        Assert.DoesNotContain("fail:", written);
        Assert.DoesNotContain("Error when executing service method", written);
        // The server goes on serving the node.
        var nodes = await server.Control.ListNodesAsync(default);
        Assert.Contains(nodes, n => n.Name == "cut");
    }
}
