using System.Diagnostics;
using Cohort.Audit;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Cohort.Integration.Tests;

/// <summary>
/// A node stopped cleanly says it is leaving (Fleet.Leave): the server counts it offline at once, as its node timeout
/// would much later, and a late leave from a process the node has since replaced changes nothing.
/// </summary>
public sealed class NodeLeaveTests
{
    // Far longer than any test here waits: whatever goes offline sooner was taken offline by a leave.
    private static readonly TimeSpan LongNodeTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_node_given_SIGTERM_mid_round_is_offline_at_once_and_the_round_goes_on_without_it()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: LongNodeTimeout);
        var nodes = new List<CliProcess>();
        try
        {
            nodes.Add(CliProcess.StartNode(server, "stays", await server.Control.CreateNodeTokenAsync("stays", default), "empty", "--set", "delay_ms=200"));
            nodes.Add(CliProcess.StartNode(server, "leaves", await server.Control.CreateNodeTokenAsync("leaves", default), "empty", "--set", "delay_ms=30000"));
            await server.WaitForNodesAsync(2, processes: nodes);
            // Without offline grace a lost node's task fails at once, and min_fit 1 lets the round finish on the node that stays.
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 2, minFit: 1, timeout: "120s", offlineGrace: "0"), "leave", default);
            await WaitUntilFitTakenAsync(server, run.Id, "leaves");

            using (var term = Process.Start("kill", ["-TERM", nodes[1].Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await term.WaitForExitAsync();
            // Within seconds of the signal, where the node timeout would take a minute.
            await WaitUntilStatusAsync(server, "leaves", "offline", TimeSpan.FromSeconds(5));
            // cohort nodes shows no task count for a node that is gone.
            var (code, listed) = await CliProcess.RunAsync(["nodes", "--data-dir", server.DataDir], environment: new Dictionary<string, string> { ["COHORT_SERVER"] = "" });
            Assert.True(code == 0, listed);
            Assert.Matches(new System.Text.RegularExpressions.Regex(@"(?m)^leaves\s+offline\s+empty\s+-\s"), listed);
            var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromSeconds(10));
            await nodes[1].WaitForExitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal("finished", detail.Run.Status);
            var round = Assert.Single(detail.Rounds);
            var lost = Assert.Single(round.Nodes, n => !n.Ok);
            Assert.Equal("leaves", lost.Node);
            Assert.Equal("node left", lost.Error);
            Assert.Contains(round.Nodes, n => n.Node == "stays" && n.Phase == "fit" && n.Ok);
            var events = await server.Host.Services.GetRequiredService<IStateStore>().ListEventsAsync(null, default);
            Assert.Contains(events, e => e.Kind == "node.offline" && e.Message.StartsWith("node 'leaves' node left", StringComparison.Ordinal));
            Assert.Contains("Node leaves: left ", nodes[1].Output);
            var ledger = File.ReadAllLines(Path.Combine(server.DataDir, AuditLedger.FileName)).Select(AuditEntry.Parse);
            Assert.Contains(ledger, e => e.Event.Kind == AuditKinds.NodeLeft && e.Event.Node == "leaves" && e.Event.Actor == "node:leaves");
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_late_leave_from_a_replaced_session_leaves_the_node_online_and_a_node_leaves_only_as_itself()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: LongNodeTimeout);
        string token = await server.Control.CreateNodeTokenAsync("r", default);
        using var channel = GrpcChannels.Create(new ConnectionOptions(server.Host.Address.ToString(), token, server.Host.CaFile));
        var fleet = new Fleet.FleetClient(channel);
        RegisterRequest Session(string id) => new() { NodeName = "r", App = "empty", Version = "test", ProtocolVersion = 1, SessionId = id };

        // Before it registers, a node has nothing to leave: the answer other calls give.
        var unregistered = await Assert.ThrowsAsync<RpcException>(() => fleet.LeaveAsync(new LeaveRequest { NodeName = "r", SessionId = "old" }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, unregistered.StatusCode);

        await fleet.RegisterAsync(Session("old"));
        var impostor = await Assert.ThrowsAsync<RpcException>(() => fleet.LeaveAsync(new LeaveRequest { NodeName = "other", SessionId = "old" }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, impostor.StatusCode);
        Assert.True((await fleet.LeaveAsync(new LeaveRequest { NodeName = "r", SessionId = "old" })).Left);
        Assert.Equal("offline", await StatusOfAsync(server, "r"));
        // A heartbeat the leaving process had in flight does not bring the node back.
        var late = await Assert.ThrowsAsync<RpcException>(() => fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = "r" }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, late.StatusCode);

        // A new process registers at once (the old session left, so there is no live one to wait out), then the old one's leave comes late.
        await fleet.RegisterAsync(Session("new"));
        Assert.False((await fleet.LeaveAsync(new LeaveRequest { NodeName = "r", SessionId = "old" })).Left);

        Assert.Equal("online", await StatusOfAsync(server, "r"));
        await fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = "r" });
        Assert.True((await fleet.LeaveAsync(new LeaveRequest { NodeName = "r", SessionId = "new" })).Left);
        Assert.Equal("offline", await StatusOfAsync(server, "r"));
    }

    private static async Task<string> StatusOfAsync(TestServer server, string node) =>
        (await server.Control.ListNodesAsync(default)).Single(n => n.Name == node).Status;

    // The run's initial parameters are in, so the task the node holds is its fit task (the preflight and get-parameters
    // tasks take milliseconds; a node gone during them is simply not selected, and the round would not wait for it).
    private static async Task WaitUntilFitTakenAsync(TestServer server, string runId, string node)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if ((await server.Control.GetAsync(runId, default)).Events.Any(e => e.Contains("run.initialized", StringComparison.Ordinal))
                && (await server.Control.ListNodesAsync(default)).Single(n => n.Name == node).Tasks > 0) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"node {node} never took its fit task of run {runId}");
    }

    private static async Task WaitUntilStatusAsync(TestServer server, string node, string status, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await StatusOfAsync(server, node) == status) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"node {node} not {status} within {timeout.TotalSeconds:0}s");
    }
}
