using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests.Security;

/// <summary>
/// A site's policy is enforced by its own node process (<c>cohort node --policy</c>): tasks outside it are
/// refused before the app sees them, the server records the reason where people look (run error, round
/// results, events), and the refusing node gets no more tasks of that run.
/// </summary>
public sealed class SitePolicyTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_node_allowing_only_fedavg_refuses_a_fedprox_run_and_the_server_shows_the_reason()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new PolicyDir("strategies: [fedavg, fedadam]\n");
        await using var node = CliProcess.StartNode(server, "strict", await server.Control.CreateNodeTokenAsync("strict", default), "empty", "--policy", dir.File);
        await server.WaitForNodesAsync(1, processes: [node]);

        const string reason = "refused by site policy: strategy fedprox not in allowed [fedavg, fedadam]";
        string plan = Fedprox(TestPlans.Empty(rounds: 2, minAvailable: 1, minFit: 1));
        // The preflight asks the site first: no run is queued that could only fail at round 1.
        var refusedAtSubmit = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(plan, "fedprox.yaml", default));
        Assert.StartsWith($"preflight failed: node strict: {reason}; 0 of the 1 connected nodes accept the run, against min_available 1", refusedAtSubmit.Message);
        Assert.Empty(await server.Control.ListAsync(null, default));

        // Past the preflight, the node refuses the run's tasks just the same.
        var run = await server.Control.SubmitAsync(plan, "fedprox.yaml", default, skipPreflight: true);
        var detail = await server.WaitForRunAsync(run.Id, Deadline);

        Assert.Equal(RunStatus.Failed.ToText(), detail.Run.Status);
        Assert.Contains(reason, detail.Run.Error);
        Assert.Single(detail.Events, e => e.Contains("node.policy_refused: node 'strict' " + reason, StringComparison.Ordinal));
        await node.WaitForOutputAsync("site policy: strategy fedprox not in allowed [fedavg, fedadam]");
        Assert.True(node.IsRunning, node.Output);
    }

    [Fact]
    public async Task A_run_continues_without_the_refusing_node_when_enough_others_remain_and_never_asks_it_again()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new PolicyDir("strategies: [fedavg]\n");
        // "a-strict" sorts first, so it is asked for the initial parameters before "b-open".
        await using var strict = CliProcess.StartNode(server, "a-strict", await server.Control.CreateNodeTokenAsync("a-strict", default), "empty", "--policy", dir.File);
        await using var open = CliProcess.StartNode(server, "b-open", await server.Control.CreateNodeTokenAsync("b-open", default), "empty");
        await server.WaitForNodesAsync(2, processes: [strict, open]);

        var run = await server.Control.SubmitAsync(Fedprox(TestPlans.Empty(rounds: 3, minAvailable: 1, minFit: 1)), "fedprox.yaml", default);
        // Enough sites accept: the preflight queues the run and says which site will not take part.
        Assert.Equal(
            ["node a-strict: refused by site policy: strategy fedprox not in allowed [fedavg]", "1 of the 2 connected nodes accept the run, against min_available 1: it goes on without the refusing nodes"],
            run.PreflightNotes);
        var detail = await server.WaitForRunAsync(run.Id, Deadline);

        Assert.True(detail.Run.Status == RunStatus.Finished.ToText(), $"{detail.Run.Status}: {detail.Run.Error}\n{string.Join("\n", detail.Events)}");
        Assert.Single(detail.Events, e => e.Contains("node.policy_refused: node 'a-strict' refused by site policy: strategy fedprox not in allowed [fedavg]", StringComparison.Ordinal));
        Assert.Equal(3, detail.Rounds.Count);
        Assert.All(detail.Rounds, r => Assert.Equal(["b-open"], r.Nodes.Select(n => n.Node).Distinct()));
        Assert.True(strict.IsRunning, strict.Output);
    }

    [Fact]
    public async Task A_node_with_max_local_epochs_2_trains_an_allowed_run_and_refuses_one_with_5_local_epochs()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new PolicyDir("""
            apps: [empty]
            strategies: [fedavg]
            max_rounds: 5
            max_local_epochs: 2
            limits: { batch_size: 512 }
            allow_server_start: true
            """);
        await using var node = CliProcess.StartNode(server, "bounded", await server.Control.CreateNodeTokenAsync("bounded", default), "empty", "--policy", dir.File);
        await server.WaitForNodesAsync(1, processes: [node]);
        string plan = TestPlans.Empty(rounds: 2, minAvailable: 1, minFit: 1);

        var allowed = await server.Control.SubmitAsync(plan + "\ntrain: { local_epochs: 2, batch_size: 64 }\n", "allowed.yaml", default);
        var done = await server.WaitForRunAsync(allowed.Id, Deadline);
        Assert.True(done.Run.Status == RunStatus.Finished.ToText(), $"{done.Run.Status}: {done.Run.Error}\n{node.Output}");
        Assert.Equal(2, done.Run.RoundsDone);
        Assert.All(done.Rounds, r => Assert.All(r.Nodes, n => Assert.True(n.Ok, n.Error)));
        Assert.True(!done.Events.Any(e => e.Contains("policy", StringComparison.Ordinal)), string.Join("\n", done.Events));

        var atSubmit = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(plan + "\ntrain: { local_epochs: 5 }\n", "epochs.yaml", default));
        Assert.StartsWith("preflight failed: node bounded: refused by site policy: local_epochs 5 above the site's limit 2", atSubmit.Message);
        Assert.Single(await server.Control.ListAsync(null, default));

        var tooLong = await server.Control.SubmitAsync(plan + "\ntrain: { local_epochs: 5 }\n", "epochs.yaml", default, skipPreflight: true);
        var refused = await server.WaitForRunAsync(tooLong.Id, Deadline);
        Assert.Equal(RunStatus.Failed.ToText(), refused.Run.Status);
        Assert.Contains("refused by site policy: local_epochs 5 above the site's limit 2", refused.Run.Error);
        Assert.Single(refused.Events, e => e.Contains("node.policy_refused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_learning_rate_growing_past_the_sites_limit_in_a_later_round_is_refused_at_submit()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new PolicyDir("""
            apps: [empty]
            limits: { learning_rate: 0.1 }
            allow_server_start: true
            """);
        await using var node = CliProcess.StartNode(server, "capped", await server.Control.CreateNodeTokenAsync("capped", default), "empty", "--policy", dir.File);
        await server.WaitForNodesAsync(1, processes: [node]);
        // 0.05 in round 1, 0.2 in round 3: inside the limit at first, outside it by the end.
        string plan = TestPlans.Empty(rounds: 3, minAvailable: 1, minFit: 1) + "\ntrain: { learning_rate: 0.05, lr_schedule: { type: exponential, gamma: 2 } }\n";

        var atSubmit = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(plan, "growing.yaml", default));

        Assert.StartsWith("preflight failed: node capped: refused by site policy: learning_rate 0.2 above the site's limit 0.1", atSubmit.Message);
        Assert.Empty(await server.Control.ListAsync(null, default));
    }

    [Fact]
    public async Task A_site_serving_only_one_submitter_trains_her_runs_and_refuses_the_admins()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new PolicyDir("submitters: [alice]\n");
        await using var node = CliProcess.StartNode(server, "study-site", await server.Control.CreateNodeTokenAsync("study-site", default), "empty", "--policy", dir.File);
        await server.WaitForNodesAsync(1, processes: [node]);
        const string password = "alice-long-password-42";
        await server.Control.AddUserAsync("alice", "operator", password, default);
        string plan = TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1);

        // The run records who submitted it, the node is told, and the site trains it.
        using (var anonymous = new OperatorClient(server, ""))
        {
            string session = (await anonymous.Api.LoginAsync(new Transport.V1.LoginRequest { User = "alice", Password = password })).Token;
            using var alice = new OperatorClient(server, session);
            var hers = await alice.Api.SubmitRunAsync(new Transport.V1.SubmitRunRequest { PlanYaml = plan, PlanSource = "alice.yaml" });
            Assert.Equal("alice", hers.Submitter);
            var done = await server.WaitForRunAsync(hers.Id, Deadline);
            Assert.True(done.Run.Status == RunStatus.Finished.ToText(), $"{done.Run.Status}: {done.Run.Error}\n{node.Output}");
        }

        // The admin token's run is someone else's: the site refuses it, and says why.
        var atSubmit = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(plan, "admin.yaml", default));
        Assert.StartsWith("preflight failed: node study-site: refused by site policy: submitter admin not in allowed [alice]", atSubmit.Message);
        Assert.Single(await server.Control.ListAsync(null, default));
        var admins = await server.Control.SubmitAsync(plan, "admin.yaml", default, skipPreflight: true);
        Assert.Equal("admin", admins.Submitter);
        var refused = await server.WaitForRunAsync(admins.Id, Deadline);
        Assert.Equal(RunStatus.Failed.ToText(), refused.Run.Status);
        Assert.Contains("refused by site policy: submitter admin not in allowed [alice]", refused.Run.Error);
    }

    [Fact]
    public async Task The_preflight_refuses_a_run_outside_the_example_policy_naming_the_node_and_the_reason_and_queues_none()
    {
        await using var server = await TestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        // cohort node --data processed.va.data --policy examples/site-policy.yaml, in process.
        var node = await StartVaAsync(server, Sites.SitePolicyParser.Load(Path.Combine(Repo.Root, "examples", "site-policy.yaml")), stop.Token);
        try
        {
            await server.WaitForNodesAsync(1);
            string plan = TestPlans.Heart(rounds: 2, nodes: 1, minFit: 1);
            (string Path, string Value, string Reason)[] outside =
            [
                ("strategy.name", "fedprox", "strategy fedprox not in allowed [fedavg, fedadam]"),
                ("rounds", "60", "rounds 60 above the site's max_rounds 50"),
                ("train.local_steps", "2000000000", "local_steps 2000000000 above the site's limit 1000"),
                ("train.batch_size", "1024", "batch_size 1024 above the site's limit 512"),
            ];
            foreach (var (path, value, reason) in outside)
            {
                var e = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(Plans.PlanText.WithValues(plan, [(path, value)]), "heart.yaml", default));
                Assert.StartsWith($"preflight failed: node va: refused by site policy: {reason}; 0 of the 1 connected nodes accept the run", e.Message);
                Assert.Empty(await server.Control.ListAsync(null, default));
            }

            // The example plan itself is inside the example policy.
            var run = await server.Control.SubmitAsync(plan, "heart.yaml", default);
            Assert.Empty(run.PreflightNotes);
            await server.Control.StopAsync(run.Id, default);
        }
        finally
        {
            await stop.CancelAsync();
            await node.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task A_site_that_approves_runs_by_id_passes_the_preflight_and_refuses_the_unapproved_run_at_its_first_task()
    {
        // The run's id exists only once it is queued, so the preflight cannot refuse for want of the site's approval.
        await using var server = await TestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        var node = await StartVaAsync(server, Sites.SitePolicyParser.Parse("allow_server_start: false\nruns: [an-earlier-run]\nstrategies: [fedavg]\n", "site.yaml"), stop.Token);
        try
        {
            await server.WaitForNodesAsync(1);
            string plan = TestPlans.Heart(rounds: 1, nodes: 1, minFit: 1);
            // Outside the policy in another way: still refused at submit.
            var e = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(Plans.PlanText.WithValues(plan, [("strategy.name", "fedprox")]), "heart.yaml", default));
            Assert.Contains("strategy fedprox not in allowed [fedavg]", e.Message);

            var run = await server.Control.SubmitAsync(plan, "heart.yaml", default);
            var detail = await server.WaitForRunAsync(run.Id);
            Assert.Equal("failed", detail.Run.Status);
            Assert.Contains($"run {run.Id} is not approved", detail.Run.Error);
        }
        finally
        {
            await stop.CancelAsync();
            await node.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task A_refusal_while_too_few_nodes_are_connected_yet_is_a_note_and_the_run_waits_for_others()
    {
        await using var server = await TestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        var node = await StartVaAsync(server, Sites.SitePolicyParser.Load(Path.Combine(Repo.Root, "examples", "site-policy.yaml")), stop.Token);
        try
        {
            await server.WaitForNodesAsync(1);
            // min_available 2 with one node connected: the run would wait for a second node anyway.
            string plan = Plans.PlanText.WithValues(TestPlans.Heart(rounds: 2, nodes: 2, minFit: 1), [("strategy.name", "fedprox")]);

            var run = await server.Control.SubmitAsync(plan, "heart.yaml", default);

            Assert.Contains(run.PreflightNotes, n => n.Contains("node va: refused by site policy: strategy fedprox not in allowed", StringComparison.Ordinal));
            Assert.Contains(run.PreflightNotes, n => n.Contains("0 of the 1 connected nodes accept the run, against min_available 2: it waits for other nodes", StringComparison.Ordinal));
            await server.Control.StopAsync(run.Id, default);
        }
        finally
        {
            await stop.CancelAsync();
            await node.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    // The va hospital's node with its data file and a site policy, in process.
    private static async Task<Task> StartVaAsync(TestServer server, Sites.SitePolicy policy, CancellationToken stop)
    {
        var options = new Cohort.Node.NodeOptions
        {
            Connection = new Transport.Channels.ConnectionOptions(server.Host.Address.ToString(), await server.Control.CreateNodeTokenAsync("va", default), server.Host.CaFile),
            Name = "va",
            NodeSettings = new Records.Config([KeyValuePair.Create("data", Records.Scalar.Of(Repo.HeartData("va")))]),
            Policy = policy,
            PollWait = TimeSpan.FromSeconds(2),
        };
        return Node.CohortNode.RunAsync(new Apps.Tabular.TabularAppFactory(), options, stop);
    }

    [Fact]
    public async Task A_malformed_policy_file_stops_the_node_at_start_with_one_line_naming_file_line_and_key()
    {
        using var dir = new PolicyDir("""
            strategies: [fedavg]
            max_rounds: 10
            max_local_epoch: 2
            """);
        string[] node = ["node", "--server", "https://127.0.0.1:1", "--name", "site", "--app", "empty", "--token", "unused", "--policy", dir.File];

        var (code, output) = await CliProcess.RunAsync(node);
        Assert.Equal(1, code);
        Assert.Contains($"{dir.File}:3:1: unknown key 'max_local_epoch' in site policy (allowed: apps, strategies, max_rounds, max_local_epochs,", output);
        Assert.DoesNotContain("   at ", output);
        Assert.DoesNotContain("unreachable", output);

        await File.WriteAllTextAsync(dir.File, "strategies: [fedavg\nmax_rounds: 10\n");
        (code, output) = await CliProcess.RunAsync(node);
        Assert.Equal(1, code);
        Assert.Contains($"--policy: site policy {dir.File}:", output);
        Assert.Contains("malformed YAML", output);

        await File.WriteAllTextAsync(dir.File, "strategies: [fedavg]\nallow_server_start: maybe\n");
        (code, output) = await CliProcess.RunAsync(node);
        Assert.Equal(1, code);
        Assert.Contains($"{dir.File}:2:21: allow_server_start: 'maybe' is not allowed (allowed: true, false)", output);
    }

    private static string Fedprox(string plan) => plan.Replace("strategy: { name: fedavg }", "strategy: { name: fedprox }", StringComparison.Ordinal);

    /// <summary>A temporary folder holding one site policy file.</summary>
    private sealed class PolicyDir : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("cohort-policy-").FullName;

        public PolicyDir(string yaml)
        {
            File = Path.Combine(_dir, "site-policy.yaml");
            System.IO.File.WriteAllText(File, yaml);
        }

        public string File { get; }

        public void Dispose() => Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A Control API client with an operator's token or session.</summary>
    private sealed class OperatorClient(TestServer server, string token) : IDisposable
    {
        private readonly Grpc.Net.Client.GrpcChannel _channel =
            Transport.Channels.GrpcChannels.Create(new Transport.Channels.ConnectionOptions(server.Host.Address.ToString(), token, server.Host.CaFile));

        public Transport.V1.Control.ControlClient Api => new(_channel);

        public void Dispose() => _channel.Dispose();
    }
}
