using Cohort.Node;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Integration.Tests;

/// <summary>How the node's result calls meet a server without <c>PushResults</c>, whatever the timing of its refusal.</summary>
public sealed class ResultCallsTests
{
    [Fact]
    public async Task A_result_whose_write_finds_the_results_call_already_refused_by_an_older_server_goes_on_a_call_of_its_own()
    {
        var server = new OlderServer();
        using var calls = new ResultCalls(new Fleet.FleetClient(server));

        var first = await calls.PushAsync(new ResultHeader { TaskId = "t1", NodeName = "n1", Ok = true }, null, null, CancellationToken.None);
        var second = await calls.PushAsync(new ResultHeader { TaskId = "t2", NodeName = "n1", Ok = true }, null, null, CancellationToken.None);

        Assert.True(first.Accepted);
        Assert.True(second.Accepted);
        Assert.Equal(["t1", "t2"], server.Pushed);
        // Once told Unimplemented, the node stops trying PushResults for the session.
        Assert.Equal(1, server.ResultsCalls);
    }

    /// <summary>
    /// A server without PushResults, as the node sees it when the server's Unimplemented ends the call before the node's
    /// first write: HttpClient stops sending, and the write fails as Cancelled while the call's reply read gives the status.
    /// Results pushed with one PushResult call each are accepted.
    /// </summary>
    private sealed class OlderServer : CallInvoker
    {
        public List<string> Pushed { get; } = [];

        public int ResultsCalls { get; private set; }

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
        {
            Assert.Equal("PushResults", method.Name);
            ResultsCalls++;
            var refused = new Status(StatusCode.Unimplemented, "");
            return new AsyncDuplexStreamingCall<TRequest, TResponse>(
                new Writer<TRequest>(_ => throw new RpcException(new Status(StatusCode.Cancelled, "", new OperationCanceledException()))),
                new RefusedReader<TResponse>(new RpcException(refused)),
                Task.FromResult(new Metadata()), () => refused, () => [], () => { });
        }

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
        {
            Assert.Equal("PushResult", method.Name);
            string? task = null;
            var reply = new TaskCompletionSource<TResponse>();
            var writer = new Writer<TRequest>(message => task ??= ((ResultMessage)(object)message!).Header.TaskId)
            {
                Completed = () =>
                {
                    Pushed.Add(task!);
                    reply.SetResult((TResponse)(object)new PushResultReply { Accepted = true, TaskId = task! });
                },
            };
            return new AsyncClientStreamingCall<TRequest, TResponse>(writer, reply.Task, Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
        }

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException();

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException();

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException();
    }

    private sealed class Writer<T>(Action<T> write) : IClientStreamWriter<T>
    {
        public Action Completed { get; init; } = () => { };

        public WriteOptions? WriteOptions { get; set; }

        public Task WriteAsync(T message)
        {
            write(message);
            return Task.CompletedTask;
        }

        public Task WriteAsync(T message, CancellationToken cancellationToken) => WriteAsync(message);

        public Task CompleteAsync()
        {
            Completed();
            return Task.CompletedTask;
        }
    }

    private sealed class RefusedReader<T>(RpcException refusal) : IAsyncStreamReader<T>
    {
        public T Current => throw new InvalidOperationException("no message");

        public Task<bool> MoveNext(CancellationToken cancellationToken) => Task.FromException<bool>(refusal);
    }
}
