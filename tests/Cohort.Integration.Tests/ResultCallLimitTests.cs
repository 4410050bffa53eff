using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Integration.Tests;

/// <summary>A node that opens result calls and leaves them idle is held to a few per task it may hold; each idle call holds server memory.</summary>
public sealed class ResultCallLimitTests
{
    [Fact]
    public async Task Result_calls_past_twice_the_nodes_capacity_and_four_are_refused_and_a_closed_one_frees_its_place()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "hoarder", await server.Control.CreateNodeTokenAsync("hoarder", default));
        const int allowed = 2 * 1 + 4; // capacity 1 (the raw node's)
        var open = new List<AsyncDuplexStreamingCall<ResultMessage, PushResultReply>>();
        try
        {
            for (int i = 0; i < allowed; i++) open.Add(await AnsweringCallAsync(node));

            using var refused = node.Fleet.PushResults();
            // Without the limit the call would wait for a header: the wait is bounded so such a failure shows.
            var e = await Assert.ThrowsAsync<RpcException>(() => refused.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
            Assert.Contains($"node 'hoarder' already has {allowed} result calls open; at most {allowed}", e.Status.Detail);

            await open[0].RequestStream.CompleteAsync();
            Assert.False(await open[0].ResponseStream.MoveNext());
            open[0].Dispose();
            open.RemoveAt(0);
            open.Add(await AnsweringCallAsync(node));
        }
        finally
        {
            foreach (var call in open) call.Dispose();
        }
    }

    // A call the server has taken: it answers a result for an unknown task on it.
    private static async Task<AsyncDuplexStreamingCall<ResultMessage, PushResultReply>> AnsweringCallAsync(RawNode node)
    {
        var call = node.Fleet.PushResults();
        await call.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = "no-such-task", NodeName = node.Name, Ok = false, Error = "x" } });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.False(call.ResponseStream.Current.Accepted);
        return call;
    }
}
