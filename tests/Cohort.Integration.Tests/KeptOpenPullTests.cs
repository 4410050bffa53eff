using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Integration.Tests;

/// <summary>
/// A pull kept open (<c>PullTaskRequest.keep_open</c>) and a <c>PushResults</c> call on a real server, driven message
/// by message: one call of each carries a whole run, the pull says it is alive while no task waits and ends when the
/// node's token is replaced, and what is left of a refused result is skipped on the way to the next.
/// </summary>
public sealed class KeptOpenPullTests
{
    private static readonly ParameterSet Weights = new([Tensor.Zeros("weights", Cohort.Parameters.DType.Float32, [4])]);

    [Fact]
    public async Task One_pull_and_one_results_call_carry_a_whole_run_and_a_refused_results_rest_is_skipped()
    {
        await using var pull = await OpenPull.StartAsync(waitMs: 200);
        var (server, node, timeout) = (pull.Server, pull.Node, pull.Timeout);
        var stream = pull.Call.ResponseStream;

        // No run yet: the call stays open and says so with empty messages.
        Assert.True(await stream.MoveNext(timeout.Token));
        Assert.Equal(TaskMessage.BodyOneofCase.None, stream.Current.BodyCase);

        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 2, minAvailable: 1, minFit: 1, minEvaluate: 1), "raw", default, skipPreflight: true);
        using var results = node.Fleet.PushResults(cancellationToken: timeout.Token);
        var kinds = new List<TaskKind>();
        var replies = new List<PushResultReply>();
        var finished = server.WaitForRunAsync(run.Id);
        while (!finished.IsCompleted)
        {
            var next = stream.MoveNext(timeout.Token);
            if (await Task.WhenAny(next, finished) == finished) break;
            Assert.True(await next, "the kept-open call ended while the run went on");
            if (stream.Current.BodyCase == TaskMessage.BodyOneofCase.None) continue;
            Assert.Equal(TaskMessage.BodyOneofCase.Header, stream.Current.BodyCase);
            var header = stream.Current.Header;
            Assert.True(header.KeptOpen);
            if (header.HasParameters)
            {
                // The manifest, then chunks up to its last byte: nothing after that belongs to this task.
                Assert.True(await stream.MoveNext(timeout.Token));
                using var assembler = new ParameterAssembler(stream.Current.Manifest);
                while (!assembler.IsComplete)
                {
                    Assert.True(await stream.MoveNext(timeout.Token));
                    assembler.Add(stream.Current.Chunk);
                }
                Assert.Equal(Weights.Count, assembler.Complete().Count);
            }
            else
            {
                Assert.Equal(TaskKind.GetParameters, header.Kind);
            }
            kinds.Add(header.Kind);
            // The first evaluation's result carries parameters, which the server refuses from its header; the
            // results that follow on the same call must still be read from their own headers.
            replies.Add(await PushAsync(results, node.Name, header, withParameters: header.Kind != TaskKind.Evaluate || replies.All(r => r.Accepted)));
        }

        var detail = await finished;
        Assert.True(detail.Run.Status == "finished", detail.Run.Error);
        // get-parameters, then a fit and an evaluation per round: all on the one call, answered in order on the other.
        Assert.Equal([TaskKind.GetParameters, TaskKind.Fit, TaskKind.Evaluate, TaskKind.Fit, TaskKind.Evaluate], kinds);
        Assert.Equal([true, true, false, true, true], replies.Select(r => r.Accepted));
        Assert.Contains("evaluation result carries no parameters", replies[2].Reason);
        var refused = Assert.Single(detail.Rounds.First().Nodes, n => n.Phase == "evaluate");
        Assert.False(refused.Ok);
        Assert.True(Assert.Single(detail.Rounds.Last().Nodes, n => n.Phase == "fit").Ok);
    }

    [Fact]
    public async Task A_kept_open_call_whose_task_the_server_timed_out_ends_instead_of_carrying_the_next_task_to_a_busy_worker()
    {
        await using var pull = await OpenPull.StartAsync(waitMs: 200);
        var (server, node, timeout) = (pull.Server, pull.Node, pull.Timeout);
        var stream = pull.Call.ResponseStream;
        _ = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, timeout: "1s"), "raw", default, skipPreflight: true);
        using var results = node.Fleet.PushResults(cancellationToken: timeout.Token);

        // Get-parameters is answered; the fit is not, as by a worker still busy with it past the round's timeout.
        TaskHeader? fit = null;
        while (fit is null)
        {
            Assert.True(await stream.MoveNext(timeout.Token), "the kept-open call ended before the fit task");
            if (stream.Current.BodyCase != TaskMessage.BodyOneofCase.Header) continue;
            var header = stream.Current.Header;
            if (header.Kind == TaskKind.Fit) fit = header;
            else Assert.True((await PushAsync(results, node.Name, header, withParameters: true)).Accepted);
        }

        // Once the server has failed it, the call ends: the node's worker opens a new one when it is free, and no task
        // waits on this one behind the abandoned fit.
        var ended = Task.Run(async () =>
        {
            while (await stream.MoveNext(timeout.Token))
                Assert.NotEqual(TaskMessage.BodyOneofCase.Header, stream.Current.BodyCase);
        });
        Assert.True(ended == await Task.WhenAny(ended, Task.Delay(TimeSpan.FromSeconds(20), timeout.Token)), "the kept-open call stayed open 20 s after its task's 1 s timeout");
        await ended;
    }

    [Fact]
    public async Task A_kept_open_call_ends_when_the_nodes_token_is_replaced()
    {
        await using var pull = await OpenPull.StartAsync(waitMs: 200);
        var (server, node, timeout, call) = (pull.Server, pull.Node, pull.Timeout, pull.Call);
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));

        await server.Control.CreateNodeTokenAsync("raw", default);

        // The next turn of the call checks the token again: the old one no longer admits it.
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(timeout.Token))
            {
            }
        });
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
    }

    [Fact]
    public async Task A_kept_open_call_ends_when_its_node_registers_again_and_gives_no_sign_of_life_for_it()
    {
        await using var pull = await OpenPull.StartAsync(waitMs: 200);
        var (server, node, timeout, call) = (pull.Server, pull.Node, pull.Timeout, pull.Call);
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));

        // The node's process restarted: a new session. The old call (a dead connection's, in life) must not take its tasks.
        await node.Fleet.RegisterAsync(new RegisterRequest { NodeName = node.Name, App = "empty", Version = "test", ProtocolVersion = 1, SessionId = "restarted" });

        var ended = Task.Run(async () =>
        {
            while (await call.ResponseStream.MoveNext(timeout.Token))
                Assert.Equal(TaskMessage.BodyOneofCase.None, call.ResponseStream.Current.BodyCase);
        });
        Assert.Same(ended, await Task.WhenAny(ended, Task.Delay(TimeSpan.FromSeconds(10), timeout.Token)));
        await ended;
    }

    [Fact]
    public async Task A_kept_open_call_asking_no_wait_still_says_it_is_alive_at_most_once_a_second()
    {
        await using var pull = await OpenPull.StartAsync(waitMs: 0);
        var (timeout, call) = (pull.Timeout, pull.Call);

        int messages = 0;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(2.5) && await call.ResponseStream.MoveNext(timeout.Token)) messages++;

        // wait_ms 0 would otherwise have the server loop as fast as the node reads.
        Assert.InRange(messages, 1, 3);
    }

    [Fact]
    public async Task A_stopping_server_ends_kept_open_calls_at_once_as_unavailable()
    {
        await using var pull = await OpenPull.StartAsync(waitMs: 20_000);
        var (server, timeout) = (pull.Server, pull.Timeout);
        using var results = pull.Node.Fleet.PushResults(cancellationToken: timeout.Token);
        var pulling = pull.Call.ResponseStream.MoveNext(timeout.Token);
        var replying = results.ResponseStream.MoveNext(timeout.Token);
        await Task.Delay(300);

        var watch = System.Diagnostics.Stopwatch.StartNew();
        await server.DisposeAsync();

        // Not the host's shutdown timeout (30 s) waiting on calls that would never end by themselves.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"the server took {watch.Elapsed} to stop");
        foreach (var call in new[] { pulling, replying })
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => call);
            Assert.Contains(e.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Cancelled, StatusCode.Internal });
        }
    }

    // A server, a registered hand-driven node and its kept-open pull, with a deadline for the test's reads.
    private sealed class OpenPull : IAsyncDisposable
    {
        public required TestServer Server { get; init; }

        public required RawNode Node { get; init; }

        public required CancellationTokenSource Timeout { get; init; }

        public required AsyncServerStreamingCall<TaskMessage> Call { get; init; }

        public static async Task<OpenPull> StartAsync(int waitMs)
        {
            var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(30));
            var node = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "raw", await server.Control.CreateNodeTokenAsync("raw", default));
            var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var call = node.Fleet.PullTask(new PullTaskRequest { NodeName = node.Name, WaitMs = waitMs, KeepOpen = true }, cancellationToken: timeout.Token);
            return new OpenPull { Server = server, Node = node, Timeout = timeout, Call = call };
        }

        public async ValueTask DisposeAsync()
        {
            Call.Dispose();
            await Node.DisposeAsync();
            await Server.DisposeAsync();
            Timeout.Dispose();
        }
    }

    private static async Task<PushResultReply> PushAsync(AsyncDuplexStreamingCall<ResultMessage, PushResultReply> call, string node, TaskHeader task, bool withParameters)
    {
        bool parameters = withParameters && task.Kind is TaskKind.Fit or TaskKind.GetParameters or TaskKind.Evaluate;
        await call.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = task.TaskId, NodeName = node, Ok = true, Examples = 1, Loss = 0.5, HasParameters = parameters } });
        if (parameters)
        {
            await call.RequestStream.WriteAsync(new ResultMessage { Manifest = ParameterEncoder.Manifest(Weights) });
            foreach (var chunk in ParameterEncoder.Chunks(Weights)) await call.RequestStream.WriteAsync(new ResultMessage { Chunk = chunk });
        }
        Assert.True(await call.ResponseStream.MoveNext(), "the results call ended before its reply");
        var reply = call.ResponseStream.Current;
        Assert.Equal(task.TaskId, reply.TaskId);
        return reply;
    }
}
