using System.Globalization;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests.Runs;

/// <summary>
/// Server and node memory against the model's size, measured where it counts: the peak resident memory
/// (VmHWM) of a real <c>cohort server</c> process and two <c>cohort node</c> processes while a 256 MiB
/// model trains for two FedAvg (or FedAvgM) rounds over TLS gRPC.
/// </summary>
public sealed class ModelMemoryBoundTests
{
    private const long Values = 64L << 20; // float32: 256 MiB
    private const double ModelMib = Values * 4.0 / 1048576;

    [Theory]
    [InlineData("fedavg")]
    // The velocity is a third model-sized buffer: it fits only because the step is written over the global
    // model as the mean is read out and the checkpoint shares the velocity (4.6× before, the model before and
    // after, the velocity and the checkpoint's copy of it).
    [InlineData("fedavgm")]
    // Two moments, each the model's size: they are kept in a scratch file past StrategyServices.StateOnDiskBytes
    // and read a window at a time as the mean is read out (3.74× while both were in memory).
    [InlineData("fedadam")]
    public async Task A_256_MiB_model_costs_the_server_and_the_nodes_a_small_multiple_of_itself(string strategy)
    {
        await using var server = await ServerProcess.StartAsync();
        var nodes = new List<CliProcess>();
        try
        {
            foreach (string name in new[] { "site-a", "site-b" })
            {
                string token = await server.Control.CreateNodeTokenAsync(name, CancellationToken.None);
                // Every weight 0.5: a zero model would leave most pages untouched and flatter the figures.
                nodes.Add(server.StartNode(name, token, "empty", "--set", $"values={Values.ToString(CultureInfo.InvariantCulture)}", "--set", "fill=0.5"));
            }
            await server.WaitForNodesAsync(2, nodes);
            double idle = server.Process.PeakMib();
            var run = await server.Control.SubmitAsync("""
                name: memory-bound
                app: { name: empty }
                strategy: { name: STRATEGY }
                rounds: 2
                selection: { min_available: 2, min_fit: 2, fraction_fit: 1.0, fraction_evaluate: 0.0, min_evaluate: 0 }
                round_timeout: 20m
                """.Replace("STRATEGY", strategy, StringComparison.Ordinal), "test", CancellationToken.None);
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(25);
            string status;
            while ((status = (await server.Control.GetAsync(run.Id, CancellationToken.None)).Run.Status) is not ("finished" or "failed" or "stopped"))
            {
                Assert.True(DateTime.UtcNow < deadline, $"run still {status} after 25 minutes");
                await Task.Delay(500);
            }
            Assert.Equal("finished", status);

            double serverPeak = server.Process.PeakMib();
            // The global model + the new one + one 64 MiB segment of the exact int64 accumulator + what the runtime
            // and transport hold: 2.34× above idle (2.75× in all) measured, the results held in their spool files
            // and folded segment by segment as the mean is read out. While they were folded as they arrived (the
            // whole accumulator, 2×, resident beside the global model) the server peaked at 3.3× above idle (3.7×
            // in all), and at 10.6× before results were folded from disk.
            Assert.True(serverPeak <= 3 * ModelMib, $"server peak {serverPeak:0} MiB is {serverPeak / ModelMib:0.00}× the {ModelMib:0} MiB model, above 3×");
            Assert.True(serverPeak - idle <= 2.6 * ModelMib, $"server peak {serverPeak:0} MiB ({(serverPeak - idle) / ModelMib:0.00}× the {ModelMib:0} MiB model above its idle {idle:0} MiB) exceeds 2.6×");
            foreach (var node in nodes)
            {
                // The model received straight into its tensors, the result streamed from them, and the runtime:
                // 1.6–1.8× measured (2.6–2.9× while it was staged natively and copied, 3.5× before that).
                double nodePeak = node.PeakMib();
                Assert.True(nodePeak <= 2.5 * ModelMib, $"node peak {nodePeak:0} MiB is {nodePeak / ModelMib:0.00}× the {ModelMib:0} MiB model, above 2.5×");
            }
            // Results were received to disk and the files went with them; so did FedAdam's moments file (in the same
            // folder), handed to the last round's checkpoint and closed once that was written.
            string spool = Path.Combine(server.DataDir, "spool");
            Assert.True(!Directory.Exists(spool) || Directory.GetFiles(spool).Length == 0, "spooled uploads left behind");
            // The files have no name from the start, so the folder is empty whatever happens: what would leak is an
            // open one (a held result never released), still taking its disk space. None may be open once the run is over.
            var open = Directory.GetFiles($"/proc/{server.Process.Id}/fd")
                .Select(LinkTarget)
                .Where(target => target is not null && target.StartsWith(spool + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                .ToArray();
            Assert.True(open.Length == 0, $"the server still holds spool files open: {string.Join(", ", open)}");
            // The averaged model is the nodes' (every weight 0.5): the spooled fold is the same sum, and FedAvgM's
            // step is zero (the global model is the nodes' too).
            string model = Directory.GetFiles(Path.Combine(server.DataDir, "models"), "round-0002.cps", SearchOption.AllDirectories).Single();
            var saved = await Cohort.Parameters.ParameterSetFile.ReadAsync(model);
            Assert.Equal(Values, saved.ElementCount);
            Assert.All(new[] { 0L, Values / 2, Values - 1 }, i => Assert.Equal(0.5f, saved[0].AsFloat32()[(int)i]));
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    // What an open file descriptor points at; null when it closed in between.
    private static string? LinkTarget(string fd)
    {
        try
        {
            return new FileInfo(fd).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
