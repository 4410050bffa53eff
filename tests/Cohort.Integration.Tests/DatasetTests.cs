using Cohort.Integration.Tests.Infrastructure;
using Cohort.Plans;

namespace Cohort.Integration.Tests;

/// <summary>Nodes that declare their data sets, plans that name one, and the preflight at submit: a real server and real node processes.</summary>
public sealed class DatasetTests
{
    private static readonly string[] Banks = ["bank_a", "bank_b", "bank_c"];

    private static string BankData(string bank) => Path.Combine(Repo.Root, "examples", "fraud", "data", bank + ".csv");

    // The fraud example's plan on deployed nodes: names the data set, three short rounds.
    private static string FraudPlan(string dataset, int nodes, params (string Path, string Value)[] extra) =>
        PlanText.WithValues(File.ReadAllText(Path.Combine(Repo.Root, "examples", "fraud", "plan.yaml")),
        [
            ("dataset", dataset),
            ("rounds", "2"),
            ("selection.min_available", nodes.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("selection.min_fit", nodes.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("selection.min_evaluate", "1"),
            ("wait_for_nodes", "30s"),
            .. extra,
        ]);

    private static string[] ControlArgs(TestServer server) =>
        ["--server", server.Host.Address.ToString(), "--admin-token", server.Host.AdminToken, "--ca", server.Host.CaFile!];

    [Fact]
    public async Task Nodes_list_their_data_sets_with_schema_hashes_and_a_run_naming_one_goes_only_to_the_nodes_holding_it()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var bank in Banks)
                nodes.Add(CliProcess.StartNode(server, bank, await server.Control.CreateNodeTokenAsync(bank, default), "tabular", "--data", $"fraud={BankData(bank)}"));
            // An unrelated data set on a node running the same app: a plan without a data set would have reached it.
            nodes.Add(CliProcess.StartNode(server, "cleveland", await server.Control.CreateNodeTokenAsync("cleveland", default), "tabular",
                "--data", $"heart={Repo.HeartData("cleveland")}"));
            await server.WaitForNodesAsync(4, processes: nodes);

            var listed = (await server.Control.ListNodesAsync(default)).ToDictionary(n => n.Name);
            var fraudHashes = Banks.Select(b => Assert.Single(listed[b].Datasets)).ToArray();
            Assert.All(fraudHashes, d => Assert.Equal("fraud", d.Name));
            Assert.All(fraudHashes, d => Assert.Matches("^[0-9a-f]{64}$", d.SchemaHash));
            // The banks' files share their columns and types, so their schemas hash alike; the heart file's does not.
            Assert.Single(fraudHashes.Select(d => d.SchemaHash).Distinct());
            Assert.Equal(10, fraudHashes[0].Columns);
            var heart = Assert.Single(listed["cleveland"].Datasets);
            Assert.Equal("heart", heart.Name);
            Assert.NotEqual(fraudHashes[0].SchemaHash, heart.SchemaHash);

            var (code, output) = await CliProcess.RunAsync(["nodes", .. ControlArgs(server)]);
            Assert.True(code == 0, output);
            Assert.Contains("NODE             STATUS           APP        TASKS  LAST HEARTBEAT", output);
            Assert.Contains($"fraud (schema {fraudHashes[0].SchemaHash[..12]}, 10 columns)", output);
            Assert.Contains($"heart (schema {heart.SchemaHash[..12]}", output);

            // The plan passes the preflight on the three banks and trains on them only.
            var run = await server.Control.SubmitAsync(FraudPlan("fraud", nodes: 3), "fraud", default);
            Assert.Empty(run.PreflightNotes);
            var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromMinutes(3));
            Assert.True(detail.Run.Status == "finished", detail.Run.Error + "\n" + string.Join("\n", nodes.Select(n => n.Output)));
            var took = detail.Rounds.SelectMany(r => r.Nodes).Select(n => n.Node).Distinct().Order().ToArray();
            Assert.Equal(Banks, took);
            Assert.All(detail.Rounds.SelectMany(r => r.Nodes), n => Assert.True(n.Ok, n.Error));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Preflight_refuses_a_data_set_whose_columns_differ_between_nodes_naming_each_schema_and_its_nodes()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            // bank_c's file lost a column on the way: same data set name, another schema.
            string trimmed = Path.Combine(server.DataDir, "bank_c-trimmed.csv");
            var lines = await File.ReadAllLinesAsync(BankData("bank_c"));
            await File.WriteAllLinesAsync(trimmed, lines.Select(l => string.Join(',', l.Split(',').Where((_, i) => i != 8))));
            foreach (var bank in new[] { "bank_a", "bank_b" })
                nodes.Add(CliProcess.StartNode(server, bank, await server.Control.CreateNodeTokenAsync(bank, default), "tabular", "--data", $"fraud={BankData(bank)}"));
            nodes.Add(CliProcess.StartNode(server, "bank_c", await server.Control.CreateNodeTokenAsync("bank_c", default), "tabular", "--data", $"fraud={trimmed}"));
            await server.WaitForNodesAsync(3, processes: nodes);
            var hashes = (await server.Control.ListNodesAsync(default)).ToDictionary(n => n.Name, n => Assert.Single(n.Datasets));
            Assert.NotEqual(hashes["bank_a"].SchemaHash, hashes["bank_c"].SchemaHash);

            string plan = Path.Combine(server.DataDir, "fraud.yaml");
            await File.WriteAllTextAsync(plan, FraudPlan("fraud", nodes: 3));
            var (code, output) = await CliProcess.RunAsync(["run", "submit", plan, .. ControlArgs(server)]);
            Assert.NotEqual(0, code);
            Assert.Contains(
                $"data set 'fraud' has different columns or column types on different nodes: schema {hashes["bank_a"].SchemaHash[..12]} (10 columns) on bank_a, bank_b; schema {hashes["bank_c"].SchemaHash[..12]} (9 columns) on bank_c",
                output);
            Assert.Empty(await server.Control.ListAsync(null, default));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Preflight_refuses_a_plan_with_every_problem_from_every_node_in_one_message_and_queues_no_run()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            string[] banks = ["bank_a", "bank_b"];
            foreach (var bank in banks)
                nodes.Add(CliProcess.StartNode(server, bank, await server.Control.CreateNodeTokenAsync(bank, default), "tabular", "--data", $"fraud={BankData(bank)}"));
            await server.WaitForNodesAsync(2, processes: nodes);

            string plan = Path.Combine(server.DataDir, "typos.yaml");
            await File.WriteAllTextAsync(plan, FraudPlan("fraud", nodes: 2, ("app.settings.label", "is_frauds"), ("app.settings.class_wieght", "balanced")));
            var (code, output) = await CliProcess.RunAsync(["run", "submit", plan, .. ControlArgs(server)]);
            Assert.NotEqual(0, code);
            string line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), l => l.Contains("preflight failed", StringComparison.Ordinal));
            // Each problem once, with every node that found it; the misspelt setting at its line and column in the plan file,
            // named as typed, as `cohort plan check` places it.
            var typo = File.ReadAllLines(plan).Select((text, i) => (Line: i + 1, Column: text.IndexOf("class_wieght", StringComparison.Ordinal) + 1)).Single(x => x.Column > 0);
            Assert.Contains("nodes bank_a, bank_b: no column 'is_frauds' (label) (did you mean 'is_fraud'?)", line);
            Assert.Contains($"nodes bank_a, bank_b: {plan}:{typo.Line}:{typo.Column}: app setting 'class_wieght' is not known (did you mean 'class_weight'?)", line);
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(line, "class_wieght' is not known"));
            Assert.Empty(await server.Control.ListAsync(null, default));

            // --no-preflight queues it anyway: the nodes then fail it when they create the app.
            (code, output) = await CliProcess.RunAsync(["run", "submit", plan, "--no-preflight", .. ControlArgs(server)]);
            Assert.True(code == 0, output);
            var queued = Assert.Single(await server.Control.ListAsync(null, default));
            await server.Control.StopAsync(queued.Id, default);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_node_that_does_not_answer_the_preflight_in_time_is_noted_and_the_run_is_queued_anyway()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(30));
        // Registered and heartbeating, but it never pulls a task (as a node stuck in another run's long task).
        await using var silent = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "silent", await server.Control.CreateNodeTokenAsync("silent", default));
        string plan = TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1) + "\npreflight_timeout: 1s\n";

        var run = await server.Control.SubmitAsync(plan, "silent", default);

        string note = Assert.Single(run.PreflightNotes);
        Assert.StartsWith("node silent did not answer the preflight within 1s", note);
        Assert.Equal("queued", run.Status);
        Assert.Contains((await server.Control.GetAsync(run.Id, default)).Events, e => e.Contains("run.preflight: node silent did not answer", StringComparison.Ordinal));
        await server.Control.StopAsync(run.Id, default);
    }

    [Fact]
    public async Task A_node_that_goes_offline_before_answering_the_preflight_is_noted_at_once_not_at_the_preflight_timeout()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(3));
        var leaving = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "leaving", await server.Control.CreateNodeTokenAsync("leaving", default));
        // Its heartbeats stop (a node stopped or cut off), but the server still counts it online for up to 3 s: the submit
        // right after asks it for the preflight, which it never answers.
        await leaving.DisposeAsync();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1) + "\npreflight_timeout: 60s\n", "leaving", default);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the submit waited {clock.Elapsed.TotalSeconds:0.#}s for a node already offline");
        string note = Assert.Single(run.PreflightNotes);
        Assert.StartsWith("node leaving went offline before it answered the preflight (", note);
        Assert.EndsWith("); its data was not checked", note);
        Assert.Equal("queued", run.Status);
        await server.Control.StopAsync(run.Id, default);
    }

    [Fact]
    public async Task A_plan_naming_no_data_set_is_refused_at_submit_by_a_node_holding_several_and_fails_with_the_same_reason_without_the_preflight()
    {
        await using var server = await TestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        // cohort node --data heart=processed.va.data --data claims=processed.cleveland.data, in process.
        var options = new Cohort.Node.NodeOptions
        {
            Connection = new Cohort.Transport.Channels.ConnectionOptions(server.Host.Address.ToString(), await server.Control.CreateNodeTokenAsync("va", default), server.Host.CaFile),
            Name = "va",
            Datasets = new Dictionary<string, string> { ["heart"] = Repo.HeartData("va"), ["claims"] = Repo.HeartData("cleveland") },
            PollWait = TimeSpan.FromSeconds(2),
        };
        var node = Cohort.Node.CohortNode.RunAsync(new Cohort.Apps.Tabular.TabularAppFactory(), options, stop.Token);
        try
        {
            await server.WaitForNodesAsync(1);
            const string reason = "this node holds data sets claims, heart; the plan names none (set dataset: to one of them)";
            string plan = TestPlans.Heart(rounds: 1, nodes: 1, minFit: 1);

            var refused = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(plan, "heart", default));
            Assert.StartsWith($"preflight failed: node va: {reason}", refused.Message);
            Assert.Empty(await server.Control.ListAsync(null, default));

            // Naming one of them passes the same check.
            var named = await server.Control.SubmitAsync(PlanText.WithValues(plan, [("dataset", "heart")]), "heart", default);
            Assert.Empty(named.PreflightNotes);
            await server.Control.StopAsync(named.Id, default);

            // Past the preflight (--no-preflight), the node fails the run's task with the same reason rather than
            // running without data.
            var run = await server.Control.SubmitAsync(plan, "heart", default, skipPreflight: true);
            var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromSeconds(30));
            Assert.Equal("failed", detail.Run.Status);
            Assert.Contains($"va: node error: {reason}", detail.Run.Error);
            Assert.DoesNotContain("'data' is missing", detail.Run.Error);
        }
        finally
        {
            await stop.CancelAsync();
            await node.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task A_run_whose_data_set_no_connected_node_holds_waits_and_says_why()
    {
        await using var server = await TestServer.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var bank in new[] { "bank_a", "bank_b" })
                nodes.Add(CliProcess.StartNode(server, bank, await server.Control.CreateNodeTokenAsync(bank, default), "tabular", "--data", $"fraud={BankData(bank)}"));
            await server.WaitForNodesAsync(2, processes: nodes);

            // No node holds 'claims': nothing to check at submit but a note saying so, and the run waits for a node that has it. Before round 1 the
            // run waits for min_available nodes holding the data set, and names the nodes without it and what they hold.
            await WaitsSayingAsync("claims", "waiting for nodes: 2 needed (min_available), 0 connected with app 'tabular' and dataset 'claims'; 2 connected with app 'tabular' but not dataset 'claims' (bank_a, bank_b), holding 'fraud'",
                "no connected node of app 'tabular' holds data set 'claims'; they hold 'fraud': the run waits for a node holding it");
            // A slip of the keys gets the name they hold, at submit and in the wait.
            await WaitsSayingAsync("frauds", "but not dataset 'frauds' (bank_a, bank_b), holding 'fraud' (did you mean 'fraud'?)",
                "no connected node of app 'tabular' holds data set 'frauds' (did you mean 'fraud'?); they hold 'fraud': the run waits for a node holding it");
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }

        async Task WaitsSayingAsync(string dataset, string reason, string submitNote)
        {
            var run = await server.Control.SubmitAsync(FraudPlan(dataset, nodes: 2), dataset, default);
            Assert.Equal(submitNote, Assert.Single(run.PreflightNotes));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!(await server.Control.GetAsync(run.Id, default)).Events.Any(e => e.Contains(reason, StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, string.Join("\n", (await server.Control.GetAsync(run.Id, default)).Events));
                await Task.Delay(100);
            }
            Assert.Equal("stopped", (await server.Control.StopAsync(run.Id, default)).Status);
        }
    }
}
