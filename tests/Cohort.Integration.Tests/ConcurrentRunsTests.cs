using System.Globalization;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Cohort.Server.Observability;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Cohort.Integration.Tests;

/// <summary>
/// Runs execute side by side on a real server with real node processes: on disjoint nodes at the same
/// time, on shared nodes in turn (with the models each run gets alone), a run waiting for nodes says why
/// and holds up no other, a stopped run frees its nodes at once, and a node never holds more tasks than its capacity.
/// </summary>
public sealed class ConcurrentRunsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Two_runs_on_disjoint_node_sets_run_at_the_same_time()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            // Both runs are queued before any node connects, so neither has a head start.
            var left = await server.Control.SubmitAsync(EmptyPlan("left", rounds: 4, minAvailable: 2, delayMs: 300, nodes: ["a1", "a2"]), "left", default);
            var right = await server.Control.SubmitAsync(EmptyPlan("right", rounds: 4, minAvailable: 2, delayMs: 300, nodes: ["b1", "b2"]), "right", default);
            await server.StartCliNodesAsync(nodes, new[] { "a1", "a2", "b1", "b2" }, "empty");

            var l = await server.WaitForRunAsync(left.Id, Deadline);
            var r = await server.WaitForRunAsync(right.Id, Deadline);
            Assert.True(l.Run.Status == RunStatus.Finished.ToText(), l.Run.Error + Output(nodes));
            Assert.True(r.Run.Status == RunStatus.Finished.ToText(), r.Run.Error + Output(nodes));
            Assert.All(l.Rounds.SelectMany(x => x.Nodes), n => Assert.StartsWith("a", n.Node, StringComparison.Ordinal));
            Assert.All(r.Rounds.SelectMany(x => x.Nodes), n => Assert.StartsWith("b", n.Node, StringComparison.Ordinal));

            // Overlap, read from the rounds the state store recorded: each run started a round before the other's last one ended.
            var (lStart, lEnd) = Span(l);
            var (rStart, rEnd) = Span(r);
            Assert.True(lStart < rEnd && rStart < lEnd, $"left ran {lStart:O}..{lEnd:O}, right {rStart:O}..{rEnd:O}: one after the other");
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_run_naming_an_app_no_node_runs_waits_with_its_reason_and_holds_up_no_other_run()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            await server.StartCliNodesAsync(nodes, new[] { "n1", "n2" }, "empty");
            await server.WaitForNodesAsync(2, processes: nodes);

            var stranded = await server.Control.SubmitAsync(EmptyPlan("stranded", rounds: 2, minAvailable: 3, app: "tabular", wait: "10m"), "stranded", default);
            // The submitter hears it at once, from the preflight: no node to check the plan, and which apps the nodes run.
            Assert.Equal("no connected node runs app 'tabular'; the connected nodes run 'empty': the run waits for nodes of its app", Assert.Single(stranded.PreflightNotes));
            // The reason is the server's at once; its event is written behind it, so both are waited for.
            var waiting = await PollAsync(server, stranded.Id, d => d.Run.WaitingReason.Length > 0 && d.Events.Any(e => e.Contains("run.waiting:", StringComparison.Ordinal)));
            Assert.Equal(RunStatus.Running.ToText(), waiting.Run.Status);
            Assert.Equal("waiting for nodes: 3 needed (min_available), 0 connected with app 'tabular'; 2 connected with other apps ('empty': n1, n2)", waiting.Run.WaitingReason);
            Assert.Contains(waiting.Events, e => e.Contains("run.waiting: before round 1: waiting for nodes: 3 needed (min_available), 0 connected", StringComparison.Ordinal));
            Assert.Contains(await server.Control.ListAsync(null, default), x => x.Id == stranded.Id && x.WaitingReason == waiting.Run.WaitingReason);
            Assert.Equal(1, await WaitingGaugeAsync(server));

            var valid = await server.Control.SubmitAsync(EmptyPlan("valid", rounds: 2, minAvailable: 2), "valid", default);
            var done = await server.WaitForRunAsync(valid.Id, Deadline);
            Assert.True(done.Run.Status == RunStatus.Finished.ToText(), done.Run.Error + Output(nodes));
            Assert.Equal("", done.Run.WaitingReason);
            Assert.Equal(RunStatus.Running.ToText(), (await server.Control.GetAsync(stranded.Id, default)).Run.Status);

            // When wait_for_nodes runs out, the final message quotes the plan's min_available and the same counts.
            var impatient = await server.Control.SubmitAsync(EmptyPlan("impatient", rounds: 1, minAvailable: 3, app: "tabular", wait: "1s"), "impatient", default);
            // A misspelt app gets the nearest name the nodes run.
            var misspelt = await server.Control.SubmitAsync(EmptyPlan("misspelt", rounds: 1, minAvailable: 2, app: "enpty", wait: "1s"), "misspelt", default);
            Assert.Equal("no connected node runs app 'enpty' (did you mean 'empty'?); the connected nodes run 'empty': the run waits for nodes of its app", Assert.Single(misspelt.PreflightNotes));
            var failed = await server.WaitForRunAsync(impatient.Id, Deadline);
            Assert.Equal(RunStatus.Failed.ToText(), failed.Run.Status);
            Assert.Equal("before round 1: still too few nodes after wait_for_nodes (1s): 3 needed (min_available), 0 connected with app 'tabular'; 2 connected with other apps ('empty': n1, n2)", failed.Run.Error);

            var stopped = await server.Control.StopAsync(stranded.Id, default);
            Assert.Equal(RunStatus.Stopped.ToText(), stopped.Status);
            Assert.Equal("", (await server.Control.GetAsync(stranded.Id, default)).Run.WaitingReason);
            Assert.Equal(0, await WaitingGaugeAsync(server));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Two_runs_sharing_capacity_one_nodes_take_turns_and_end_with_the_model_each_gets_alone()
    {
        await using var server = await TestServer.StartAsync();
        var hospitals = new[] { "cleveland", "hungarian", "va" };
        var nodes = new List<CliProcess>();
        try
        {
            const int rounds = 8;
            string plan = TestPlans.Heart(rounds: rounds, nodes: 3, minFit: 3);
            var first = await server.Control.SubmitAsync(plan, "first", default);
            var second = await server.Control.SubmitAsync(plan, "second", default);
            await server.StartCliNodesAsync(nodes, hospitals, "tabular", h => ["--data", Repo.HeartData(h)]);

            var a = await server.WaitForRunAsync(first.Id, Deadline);
            var b = await server.WaitForRunAsync(second.Id, Deadline);
            Assert.True(a.Run.Status == RunStatus.Finished.ToText(), a.Run.Error + Output(nodes));
            Assert.True(b.Run.Status == RunStatus.Finished.ToText(), b.Run.Error + Output(nodes));
            Assert.All(a.Rounds.Concat(b.Rounds), r => Assert.Equal(3, r.Nodes.Count(n => n.Phase == "fit" && n.Ok)));

            // Taking turns: each run finished its first round before the other started its last, so neither waited for the other to end.
            Assert.True(Finished(a.Rounds[0]) < Started(b.Rounds[^1]), $"the first run's round 1 ended {a.Rounds[0].FinishedAt}, after the second run's last round started {b.Rounds[^1].StartedAt}");
            Assert.True(Finished(b.Rounds[0]) < Started(a.Rounds[^1]), $"the second run's round 1 ended {b.Rounds[0].FinishedAt}, after the first run's last round started {a.Rounds[^1].StartedAt}");

            var alone = await server.Control.SubmitAsync(plan, "alone", default);
            var c = await server.WaitForRunAsync(alone.Id, Deadline);
            Assert.True(c.Run.Status == RunStatus.Finished.ToText(), c.Run.Error);

            var modelA = await ModelBytesAsync(server, first.Id);
            Assert.Equal(modelA, await ModelBytesAsync(server, second.Id));
            Assert.Equal(modelA, await ModelBytesAsync(server, alone.Id));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Stopping_a_run_frees_its_nodes_for_the_run_queued_behind_it()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            await server.StartCliNodesAsync(nodes, new[] { "n1", "n2" }, "empty");
            await server.WaitForNodesAsync(2, processes: nodes);

            // Each fit of this run takes ten minutes: only stopping it lets the nodes (capacity 1) take anything else.
            var slow = await server.Control.SubmitAsync(EmptyPlan("slow", rounds: 1, minAvailable: 2, delayMs: 600_000, timeout: "20m"), "slow", default);
            var deadline = DateTime.UtcNow + Deadline;
            while ((await server.Control.ListNodesAsync(default)).Count(n => n.Tasks == 1 && n.Capacity == 1) < 2)
            {
                Assert.True(DateTime.UtcNow < deadline, "the slow run's fits never reached both nodes" + Output(nodes));
                await Task.Delay(100);
            }

            // A run needing more nodes than there are says which run keeps the connected ones busy.
            // Both nodes are busy for ten minutes, so neither could answer a preflight: these submits skip it.
            var wide = await server.Control.SubmitAsync(EmptyPlan("wide", rounds: 1, minAvailable: 3, wait: "10m"), "wide", default, skipPreflight: true);
            var reason = (await PollAsync(server, wide.Id, d => d.Run.WaitingReason.Contains("busy", StringComparison.Ordinal))).Run.WaitingReason;
            Assert.Equal($"waiting for nodes: 3 needed (min_available), 2 connected with app 'empty'; 2 busy in run {slow.Id}", reason);

            var queued = await server.Control.SubmitAsync(EmptyPlan("queued", rounds: 1, minAvailable: 2), "queued", default, skipPreflight: true);
            await server.Control.StopAsync(slow.Id, default);
            var done = await server.WaitForRunAsync(queued.Id, Deadline);
            Assert.True(done.Run.Status == RunStatus.Finished.ToText(), done.Run.Error + Output(nodes));
            var stopped = await server.Control.GetAsync(slow.Id, default);
            Assert.Equal(RunStatus.Stopped.ToText(), stopped.Run.Status);
            Assert.Equal(0, stopped.Run.RoundsDone);
            await server.Control.StopAsync(wide.Id, default);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_node_with_capacity_two_works_for_two_runs_at_once_and_a_third_waits_for_a_free_place()
    {
        await using var server = await TestServer.StartAsync();
        await using var node = CliProcess.StartNode(server, "wide", await server.Control.CreateNodeTokenAsync("wide", default), "empty", "--capacity", "2");
        await server.WaitForNodesAsync(1, processes: [node]);

        // Two runs whose fits take ten minutes each: the node takes both at once.
        var slow1 = await server.Control.SubmitAsync(EmptyPlan("slow1", rounds: 1, minAvailable: 1, delayMs: 600_000, timeout: "20m"), "slow1", default);
        var slow2 = await server.Control.SubmitAsync(EmptyPlan("slow2", rounds: 1, minAvailable: 1, delayMs: 600_000, timeout: "20m"), "slow2", default);
        var deadline = DateTime.UtcNow + Deadline;
        NodeInfo? info = null;
        while ((info = (await server.Control.ListNodesAsync(default)).Single()).Tasks < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the node holds {info.Tasks} tasks, not 2" + Output([node]));
            await Task.Delay(100);
        }
        Assert.Equal(2, info.Capacity);

        // A third run gets no place until one of the two ends: stopping the first frees it, while the second keeps training.
        var quick = await server.Control.SubmitAsync(EmptyPlan("quick", rounds: 2, minAvailable: 1), "quick", default);
        await server.Control.StopAsync(slow1.Id, default);
        var done = await server.WaitForRunAsync(quick.Id, Deadline);
        Assert.True(done.Run.Status == RunStatus.Finished.ToText(), done.Run.Error + Output([node]));
        var second = await server.Control.GetAsync(slow2.Id, default);
        Assert.Equal(RunStatus.Running.ToText(), second.Run.Status);
        Assert.Equal(1, (await server.Control.ListNodesAsync(default)).Single().Tasks);
        await server.Control.StopAsync(slow2.Id, default);
    }

    [Fact]
    public async Task A_node_is_handed_no_more_open_tasks_than_its_capacity_and_runs_take_turns_on_it()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(30));
        await using var raw = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "raw", await server.Control.CreateNodeTokenAsync("raw", default));
        // This node answers only what the test pulls, so the submits skip the preflight's check of its data.
        var one = await server.Control.SubmitAsync(EmptyPlan("one", rounds: 1, minAvailable: 1), "one", default, skipPreflight: true);
        var two = await server.Control.SubmitAsync(EmptyPlan("two", rounds: 1, minAvailable: 1), "two", default, skipPreflight: true);

        // Both runs ask the node for initial parameters; it registered without a capacity, so it holds one task at a time.
        var first = await PullAsync(raw, TimeSpan.FromSeconds(60));
        Assert.NotNull(first);
        Assert.Equal(TaskKind.GetParameters, first.Kind);
        var idleSecond = await PullAsync(raw, TimeSpan.FromSeconds(2));
        Assert.Null(idleSecond);

        await AnswerAsync(raw, first, new ParameterSet([Tensor.Zeros("weights", Cohort.Parameters.DType.Float32, [4])]));
        var second = await PullAsync(raw, TimeSpan.FromSeconds(60));
        Assert.NotNull(second);
        // The run that just got its answer queues its fit behind the other run's waiting task.
        Assert.NotEqual(first.RunId, second.RunId);
        Assert.Equal(TaskKind.GetParameters, second.Kind);
        Assert.Contains(second.RunId, new[] { one.Id, two.Id });
        await server.Control.StopAsync(one.Id, default);
        await server.Control.StopAsync(two.Id, default);
    }

    private static string EmptyPlan(string name, int rounds, int minAvailable, int delayMs = 0, string app = "empty", string wait = "60s",
        string timeout = "60s", IReadOnlyList<string>? nodes = null) => $$"""
        name: {{name}}
        app: { name: {{app}}, settings: { delay_ms: {{delayMs.ToString(CultureInfo.InvariantCulture)}} } }
        strategy: { name: fedavg }
        rounds: {{rounds}}
        selection: { min_available: {{minAvailable}}, min_fit: {{minAvailable}}, min_evaluate: 0, fraction_fit: 1.0, fraction_evaluate: 0.0{{(nodes is null ? "" : $", nodes: [{string.Join(", ", nodes)}]")}} }
        round_timeout: {{timeout}}
        wait_for_nodes: {{wait}}
        """;

    private static async Task<RunDetail> PollAsync(TestServer server, string id, Func<RunDetail, bool> until)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            var detail = await server.Control.GetAsync(id, default);
            if (until(detail)) return detail;
            Assert.True(DateTime.UtcNow < deadline, $"run {id}: condition not met; status {detail.Run.Status}, waiting '{detail.Run.WaitingReason}', error '{detail.Run.Error}'");
            await Task.Delay(100);
        }
    }

    private static async Task<TaskHeader?> PullAsync(RawNode node, TimeSpan wait)
    {
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline)
        {
            int ms = (int)Math.Clamp((deadline - DateTime.UtcNow).TotalMilliseconds, 1, 1000);
            using var pull = node.Fleet.PullTask(new PullTaskRequest { NodeName = node.Name, WaitMs = ms });
            await foreach (var m in pull.ResponseStream.ReadAllAsync())
            {
                if (m.BodyCase == TaskMessage.BodyOneofCase.Header) return m.Header;
            }
        }
        return null;
    }

    private static async Task AnswerAsync(RawNode node, TaskHeader task, ParameterSet parameters)
    {
        using var push = node.Fleet.PushResult();
        await push.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = task.TaskId, NodeName = node.Name, Ok = true, HasParameters = true } });
        await push.RequestStream.WriteAsync(new ResultMessage { Manifest = ParameterEncoder.Manifest(parameters) });
        foreach (var chunk in ParameterEncoder.Chunks(parameters)) await push.RequestStream.WriteAsync(new ResultMessage { Chunk = chunk });
        await push.RequestStream.CompleteAsync();
        Assert.True((await push.ResponseAsync).Accepted);
    }

    // cohort_runs_waiting_for_nodes as a scrape of the server's /metrics reads it.
    private static async Task<double> WaitingGaugeAsync(TestServer server)
    {
        var metrics = server.Host.Services.GetRequiredService<ServerMetrics>();
        using var scrape = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(scrape);
        return metrics.RunsWaiting.Value;
    }

    private static async Task<byte[]> ModelBytesAsync(TestServer server, string runId)
    {
        var (model, _) = await server.Control.PullModelAsync(runId, 0, default);
        return model.SelectMany(t => t.Data).ToArray();
    }

    private static (DateTimeOffset Start, DateTimeOffset End) Span(RunDetail run) =>
        (run.Rounds.Min(Started), run.Rounds.Max(Finished));

    private static DateTimeOffset Started(RoundInfo round) => DateTimeOffset.Parse(round.StartedAt, CultureInfo.InvariantCulture);

    private static DateTimeOffset Finished(RoundInfo round) => DateTimeOffset.Parse(round.FinishedAt, CultureInfo.InvariantCulture);

    private static string Output(IEnumerable<CliProcess> nodes) => "\n" + string.Join("\n", nodes.Select(n => n.Output));
}
