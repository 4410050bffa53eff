using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>The built-in mnist app in real node processes, each reading the IDX folder with its own digits.</summary>
public sealed class MnistFederationTests
{
    [Fact]
    public async Task Two_mnist_nodes_refuse_scaffold_at_submit_and_with_disjoint_digits_train_a_2nn_that_recognises_all_digits_after_fedavg()
    {
        await using var server = await TestServer.StartAsync();
        string data = Path.Combine(Repo.Root, "examples", "mnist", "data");
        var sites = new[] { ("low", "0,1,2,3,4"), ("high", "5,6,7,8,9") };
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var (name, digits) in sites)
                nodes.Add(CliProcess.StartNode(server, name, await server.Control.CreateNodeTokenAsync(name, default), "mnist",
                    "--data", data, "--set", $"digits={digits}", "--set", "train_examples=1500", "--set", "test_examples=1000"));
            await server.WaitForNodesAsync(2, processes: nodes);

            // The app cannot keep SCAFFOLD's control variates, and the nodes say so at submit rather than in round 1.
            var refused = await Assert.ThrowsAsync<Cohort.Cli.CliException>(() => server.Control.SubmitAsync("""
                name: mnist-scaffold
                app: { name: mnist, settings: { model: 2nn, threads: 1 } }
                strategy: { name: scaffold }
                rounds: 3
                selection: { min_available: 2, min_fit: 2, fraction_fit: 1.0 }
                wait_for_nodes: 30s
                """, "mnist", default));
            Assert.StartsWith("preflight failed: ", refused.Message, StringComparison.Ordinal);
            Assert.Contains("the mnist app does not keep SCAFFOLD's control variates", refused.Message, StringComparison.Ordinal);
            Assert.Empty(await server.Control.ListAsync(null, default));

            var run = await server.Control.SubmitAsync("""
                name: mnist-test
                app: { name: mnist, settings: { model: 2nn, threads: 1 } }
                strategy: { name: fedavg }
                rounds: 3
                seed: 1
                selection: { min_available: 2, min_fit: 2, min_evaluate: 2, fraction_fit: 1.0, fraction_evaluate: 1.0 }
                round_timeout: 60s
                wait_for_nodes: 30s
                train: { local_epochs: 1, batch_size: 10, learning_rate: 0.05 }
                """, "mnist", default);
            var detail = await server.WaitForRunAsync(run.Id);

            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            var last = detail.Rounds.OrderBy(r => r.Round).Last();
            Assert.All(last.Nodes.Where(n => n.Phase == "fit"), n => Assert.Equal(1500, n.Examples));
            // Each node alone knows half the digits (≤ ~0.5 accuracy); the federated model knows all ten.
            double accuracy = last.Metrics["accuracy"].DoubleValue;
            Assert.True(accuracy > 0.75, $"accuracy after 3 rounds {accuracy}");
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }
}
