using System.Globalization;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests.Runs;

/// <summary>
/// A strategy that needs every update (FedMedian) with the updates kept on disk: the peak resident
/// memory (VmHWM) of a real <c>cohort server</c> process stays a small multiple of the model while five
/// node processes send 64 MiB updates over TLS gRPC — held in memory they would be N + 2 models.
/// </summary>
public sealed class SpilledUpdatesMemoryTests
{
    private const long Values = 16L << 20; // float32: 64 MiB
    private const double ModelMib = Values * 4.0 / 1048576;
    private const int Nodes = 5;

    [Fact]
    public async Task FedMedian_with_updates_on_disk_keeps_the_server_within_four_models_of_five_nodes()
    {
        // Budget 0: every update goes to disk (received there, as each is above --spool-upload-mb).
        await using var server = await ServerProcess.StartAsync("--update-memory-mb", "0", "--durability", "process");
        var nodes = new List<CliProcess>();
        try
        {
            for (int i = 0; i < Nodes; i++)
            {
                string name = $"site-{(char)('a' + i)}";
                string token = await server.Control.CreateNodeTokenAsync(name, CancellationToken.None);
                // Every weight 0.5: a zero model would leave most pages untouched and flatter the figures.
                nodes.Add(server.StartNode(name, token, "empty", "--set", $"values={Values.ToString(CultureInfo.InvariantCulture)}", "--set", "fill=0.5"));
            }
            await server.WaitForNodesAsync(Nodes, nodes);
            double idle = server.Process.PeakMib();
            var run = await server.Control.SubmitAsync($$"""
                name: spilled-median
                app: { name: empty }
                strategy: { name: fedmedian }
                rounds: 1
                selection: { min_available: {{Nodes}}, min_fit: {{Nodes}}, fraction_fit: 1.0, fraction_evaluate: 0.0, min_evaluate: 0 }
                round_timeout: 10m
                """, "test", CancellationToken.None);
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
            string status;
            while ((status = (await server.Control.GetAsync(run.Id, CancellationToken.None)).Run.Status) is not ("finished" or "failed" or "stopped"))
            {
                Assert.True(DateTime.UtcNow < deadline, $"run still {status} after 10 minutes");
                await Task.Delay(300);
            }
            var detail = await server.Control.GetAsync(run.Id, CancellationToken.None);
            Assert.True(status == "finished", $"run {status}:\n{string.Join("\n", detail.Events)}");
            Assert.Contains(detail.Events, e => e.Contains($"kept {Nodes} of {Nodes} updates on disk", StringComparison.Ordinal));

            double serverPeak = server.Process.PeakMib();
            // The global model, the new one and a chunk of each update; held in memory the five updates
            // alone would be 5×, the whole N + 2 = 7× the model above idle.
            Assert.True(serverPeak - idle <= 4 * ModelMib,
                $"server peak {serverPeak:0} MiB ({(serverPeak - idle) / ModelMib:0.00}× the {ModelMib:0} MiB model above its idle {idle:0} MiB) exceeds 4×");
            // Spill files had no name from the start: nothing is left in the data folder.
            string spool = Path.Combine(server.DataDir, "spool");
            Assert.True(!Directory.Exists(spool) || Directory.GetFileSystemEntries(spool).Length == 0, "spill files left behind");
            // The median of five 0.5s, read from disk a chunk at a time.
            string model = Directory.GetFiles(Path.Combine(server.DataDir, "models"), "round-0001.cps", SearchOption.AllDirectories).Single();
            var saved = await Cohort.Parameters.ParameterSetFile.ReadAsync(model);
            Assert.Equal(Values, saved.ElementCount);
            Assert.All(new[] { 0L, Values / 2, Values - 1 }, i => Assert.Equal(0.5f, saved[0].AsFloat32()[(int)i]));
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }
}
