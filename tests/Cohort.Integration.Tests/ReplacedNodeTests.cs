using Cohort.Audit;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Integration.Tests;

/// <summary>
/// A node process frozen past the node timeout, whose name another process took while it was counted offline, gets nothing
/// when it wakes: its calls name the session it registered with, the server refuses them as no longer registered, and when
/// it registers again it is refused as a second process while its replacement is live.
/// </summary>
public sealed class ReplacedNodeTests
{
    [Fact]
    public async Task A_node_frozen_past_the_node_timeout_and_replaced_gets_no_task_when_it_resumes_and_stops_while_the_run_completes_on_its_replacement()
    {
        // Node timeout 2 s, heartbeats every 300 ms.
        await using var server = await TestServer.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("cleveland", default);
        string frozenState = Path.Combine(server.DataDir, "frozen-node");
        string replacementState = Path.Combine(server.DataDir, "replacement-node");
        await using var frozen = CliProcess.StartNode(server, "cleveland", token, "empty", "--state-dir", frozenState);
        await server.WaitForNodesAsync(1, processes: [frozen]);

        await frozen.PauseAsync();
        await WaitUntilStatusAsync(server, "cleveland", "offline", TimeSpan.FromSeconds(30));
        // The name's session is silent past the node timeout: a second process under the same token and name registers.
        await using var replacement = CliProcess.StartNode(server, "cleveland", token, "empty", "--state-dir", replacementState, "--set", "delay_ms=100");
        await replacement.WaitForOutputAsync("registered with", TimeSpan.FromSeconds(60));
        await server.WaitForNodesAsync(1, processes: [replacement]);
        await frozen.ResumeAsync();

        // Rounds of fit and evaluate tasks: a resumed process still taking the node's tasks would answer some of them.
        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 3, minAvailable: 1, minFit: 1, minEvaluate: 1), "replaced", default);
        var detail = await server.WaitForRunAsync(run.Id);

        Assert.True(detail.Run.Status == "finished", $"{detail.Run.Status}: {detail.Run.Error}\n{replacement.Output}");
        Assert.DoesNotContain(LedgerKinds(frozenState), k => k is AuditKinds.TaskReceived or AuditKinds.ResultSent);
        Assert.Contains(AuditKinds.ResultSent, LedgerKinds(replacementState));
        // Told it is no longer registered, the resumed process registers again and is refused as a second process.
        int code;
        try
        {
            code = await frozen.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException("the resumed process is still running under the replaced session:\n" + frozen.Output);
        }
        Assert.Equal(1, code);
        Assert.Contains("node 'cleveland' is already connected from ", frozen.Output);
        Assert.DoesNotContain("   at ", frozen.Output);
        Assert.True(replacement.IsRunning, replacement.Output);
        // Online (or still reporting a task it has just answered) through the replacement.
        Assert.Contains(await StatusOfAsync(server, "cleveland"), new[] { "online", "busy" });
    }

    [Fact]
    public async Task Calls_naming_a_replaced_session_are_refused_so_that_it_registers_again_and_calls_naming_none_are_taken_as_before()
    {
        await using var server = await TestServer.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("r", default);
        using var channel = GrpcChannels.Create(new ConnectionOptions(server.Host.Address.ToString(), token, server.Host.CaFile));
        var fleet = new Fleet.FleetClient(channel);
        RegisterRequest Session(string id) => new() { NodeName = "r", App = "empty", Version = "test", ProtocolVersion = 1, SessionId = id };

        // Counted offline briefly (a network blip): the same session's next heartbeat brings the node back, as before.
        await fleet.RegisterAsync(Session("old"));
        await WaitUntilStatusAsync(server, "r", "offline", TimeSpan.FromSeconds(30));
        await fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = "r", SessionId = "old" });
        Assert.Equal("online", await StatusOfAsync(server, "r"));

        // Silent past the node timeout, then replaced by another process under the same name.
        await WaitUntilStatusAsync(server, "r", "offline", TimeSpan.FromSeconds(30));
        await fleet.RegisterAsync(Session("new"));

        var heartbeat = await Assert.ThrowsAsync<RpcException>(() => fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = "r", SessionId = "old" }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, heartbeat.StatusCode);
        Assert.EndsWith("register again", heartbeat.Status.Detail);
        var pull = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = fleet.PullTask(new PullTaskRequest { NodeName = "r", SessionId = "old", WaitMs = 0, KeepOpen = true }, deadline: DateTime.UtcNow.AddSeconds(5));
            while (await call.ResponseStream.MoveNext(default))
            {
                // Only the refusal is wanted.
            }
        });
        Assert.Equal(StatusCode.FailedPrecondition, pull.StatusCode);
        using (var push = fleet.PushResult())
        {
            await push.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = "t", NodeName = "r", SessionId = "old", Ok = false, Error = "stale" } });
            await push.RequestStream.CompleteAsync();
            var result = await Assert.ThrowsAsync<RpcException>(() => push.ResponseAsync);
            Assert.Equal(StatusCode.FailedPrecondition, result.StatusCode);
        }
        // The replaced session's refused heartbeat did not bring the node back: its replacement is silent, so it is offline.
        await WaitUntilStatusAsync(server, "r", "offline", TimeSpan.FromSeconds(30));
        await Assert.ThrowsAsync<RpcException>(() => fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = "r", SessionId = "old" }).ResponseAsync);
        Assert.Equal("offline", await StatusOfAsync(server, "r"));

        // The current session's calls, and those of an older node that names none, are taken.
        await fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = "r", SessionId = "new" });
        await fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = "r" });
        using (var call = fleet.PullTask(new PullTaskRequest { NodeName = "r", WaitMs = 0 }))
            Assert.False(await call.ResponseStream.MoveNext(default));

        // Registering again, the replaced process is refused as a second process while the new one is live.
        using var beats = new CancellationTokenSource();
        var beating = Task.Run(async () =>
        {
            while (!beats.IsCancellationRequested)
            {
                try
                {
                    await fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = "r", SessionId = "new" }, cancellationToken: beats.Token);
                    await Task.Delay(200, beats.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or RpcException)
                {
                }
            }
        });
        var again = await Assert.ThrowsAsync<RpcException>(() => fleet.RegisterAsync(Session("old")).ResponseAsync);
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);
        await beats.CancelAsync();
        await beating;
    }

    // The kinds of the entries in a node's own audit ledger (none when it never wrote one).
    private static IReadOnlyList<string> LedgerKinds(string stateDir)
    {
        string path = Path.Combine(stateDir, AuditLedger.FileName);
        return File.Exists(path) ? [.. AuditLedger.ReadLines(path).Select(l => AuditEntry.Parse(l).Event.Kind)] : [];
    }

    private static async Task<string> StatusOfAsync(TestServer server, string node) =>
        (await server.Control.ListNodesAsync(default)).Single(n => n.Name == node).Status;

    private static async Task WaitUntilStatusAsync(TestServer server, string node, string status, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (await StatusOfAsync(server, node) != status)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"node {node} not {status} within {timeout.TotalSeconds:0}s");
            await Task.Delay(50);
        }
    }
}
