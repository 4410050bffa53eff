using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>The statistics step and central evaluation between a real server and real node processes over gRPC.</summary>
public sealed class FederatedStatisticsTests
{
    private static readonly string FraudData = Path.Combine(Repo.Root, "examples", "fraud", "data");

    private static string Plan(int minAvailable, string? centralFile = null) =>
        File.ReadAllText(Path.Combine(Repo.Root, "examples", "fraud", "plan.yaml"))
            .Replace("standardize: site", "standardize: global", StringComparison.Ordinal)
            .Replace("rounds: 20", "rounds: 2", StringComparison.Ordinal)
            .Replace("min_available: 3", $"min_available: {minAvailable}", StringComparison.Ordinal)
            .Replace("min_fit: 3", $"min_fit: {minAvailable}", StringComparison.Ordinal)
            .Replace("min_evaluate: 3", $"min_evaluate: {minAvailable}", StringComparison.Ordinal)
        + (centralFile is null ? "" : $"\ncentral_evaluation:\n  file: {centralFile}\n");

    private static Task<TestServer> StartServerAsync() =>
        TestServer.StartAsync(strategyServices: new Strategies.StrategyServices { ServerApps = Apps.BuiltInApps.ServerApps(Repo.Root) });

    [Fact]
    public async Task Three_banks_send_statistics_before_round_1_and_the_server_scores_its_own_test_file_every_round()
    {
        await using var server = await StartServerAsync();
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var bank in new[] { "bank_a", "bank_b", "bank_c" })
                nodes.Add(CliProcess.StartNode(server, bank, await server.Control.CreateNodeTokenAsync(bank, default), "tabular", "--data", Path.Combine(FraudData, bank + ".csv")));
            await server.WaitForNodesAsync(3, processes: nodes);

            // Relative to the server's base folder (here the repository).
            var run = await server.Control.SubmitAsync(Plan(3, "examples/fraud/data/bank_c.csv"), "fraud-global", default);
            var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromMinutes(3));

            Assert.True(detail.Run.Status == "finished", $"{detail.Run.Status}: {detail.Run.Error}\n{string.Join("\n", detail.Events)}");
            Assert.Contains(detail.Events, e => e.Contains("run.statistics", StringComparison.Ordinal) && e.Contains("statistics from 3 nodes", StringComparison.Ordinal));
            Assert.Equal(2, detail.Rounds.Count);
            foreach (var round in detail.Rounds)
            {
                Assert.True(round.HasCentral, $"round {round.Round} has no central evaluation");
                Assert.True(round.CentralMetrics["auc"].DoubleValue > 0.75, $"round {round.Round} central auc {round.CentralMetrics["auc"].DoubleValue}");
                Assert.True(round.CentralMetrics.ContainsKey("pr_auc") && round.CentralMetrics.ContainsKey("f1"));
                // The banks trained and evaluated with the federation's features: pooled figures came back.
                Assert.True(round.Metrics["auc"].DoubleValue > 0.75, $"round {round.Round} pooled auc {round.Metrics["auc"].DoubleValue}");
            }
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Nodes_whose_tables_disagree_are_refused_at_submit_and_fail_the_statistics_step_without_the_preflight()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-stats-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        // bank_x's file lacks the hour column.
        string noHour = Path.Combine(dir, "bank_x.csv");
        File.WriteAllLines(noHour, File.ReadLines(Path.Combine(FraudData, "bank_b.csv")).Select(line =>
        {
            var cells = line.Split(',');
            return string.Join(',', cells.Take(2).Concat(cells.Skip(3)));
        }));
        await using var server = await StartServerAsync();
        var nodes = new List<CliProcess>();
        try
        {
            nodes.Add(CliProcess.StartNode(server, "bank_a", await server.Control.CreateNodeTokenAsync("bank_a", default), "tabular", "--data", Path.Combine(FraudData, "bank_a.csv")));
            nodes.Add(CliProcess.StartNode(server, "bank_x", await server.Control.CreateNodeTokenAsync("bank_x", default), "tabular", "--data", noHour));
            await server.WaitForNodesAsync(2, processes: nodes);

            // The preflight at submit compares the schemas the nodes report and refuses the plan, naming both.
            var refused = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync(Plan(2), "fraud-mismatch", default));
            Assert.Contains("the nodes' data has different columns or column types on different nodes: schema ", refused.Message);
            Assert.Matches(@"\(10 columns\) on bank_a", refused.Message);
            Assert.Matches(@"\(9 columns\) on bank_x", refused.Message);
            Assert.Empty(await server.Control.ListAsync(null, default));

            // Without the preflight, the statistics step finds it before round 1.
            var run = await server.Control.SubmitAsync(Plan(2), "fraud-mismatch", default, skipPreflight: true);
            var detail = await server.WaitForRunAsync(run.Id, TimeSpan.FromMinutes(2));

            Assert.Equal("failed", detail.Run.Status);
            Assert.Equal("statistics step: the nodes' tables do not agree (compared with the columns of bank_a): bank_x: no column 'hour'", detail.Run.Error);
            Assert.Empty(detail.Rounds);
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
            Directory.Delete(dir, recursive: true);
        }
    }
}
