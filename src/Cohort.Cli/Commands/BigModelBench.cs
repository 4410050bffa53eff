using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Cohort.Cli.Control;
using Cohort.Cli.Demo;
using Cohort.Transport.Channels;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench big-model</c>: a large model (the empty app with N float32 values) trained for a few
/// rounds by a <c>cohort server</c> process and node processes over TLS gRPC on loopback, reporting the
/// server's and each node's peak memory (VmHWM) against the model's size, and the seconds per round.
/// Every weight is 0.5 (a zero model would leave most pages untouched and understate the memory).
/// Opt-in: at 600M values it needs about 7 GiB on the server, 2.4 GiB per node and 12 GB of disk.
/// </summary>
internal static class BigModelBench
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var values = new Option<long>("--params") { Description = "Model size in float32 values (600000000: 2.4 GB)", DefaultValueFactory = _ => 600_000_000 };
        var tensors = new Option<int>("--tensors") { Description = "Split the model into this many equal tensors (0: tensors of 1 GiB); each must stay within 2 GiB" };
        var nodes = new Option<int>("--nodes") { Description = "Node processes", DefaultValueFactory = _ => 2 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds to train", DefaultValueFactory = _ => 2 };
        var strategy = new Option<string>("--strategy") { Description = "Strategy of the plan", DefaultValueFactory = _ => "fedavg" };
        var evaluate = new Option<bool>("--evaluate") { Description = "Also evaluate the global model on every node each round", DefaultValueFactory = _ => true };
        var delay = new Option<int>("--fit-delay-ms") { Description = "Each node waits this long in every fit (time to take a heap dump mid-round)", DefaultValueFactory = _ => 0 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file (e.g. bench/results/big-model.json)" };
        var command = new Command("big-model", "Peak memory of the server and the nodes, against the model's size, while a large model trains over TLS gRPC on loopback")
        {
            values, tensors, nodes, rounds, strategy, evaluate, delay, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            long size = pr.GetValue(values);
            int n = pr.GetValue(nodes), r = pr.GetValue(rounds);
            bool withEvaluate = pr.GetValue(evaluate);
            int parts = pr.GetValue(tensors);
            if (size < 1 || n < 1 || r < 1) throw new CliException("--params ≥ 1, --nodes ≥ 1 and --rounds ≥ 1");
            if (parts < 0 || parts > size) throw new CliException($"--tensors must be between 0 and --params ({size}), got {parts}");
            if (parts > 0 && (size + parts - 1) / parts > Apps.Empty.EmptyApp.MaxTensorValues)
                throw new CliException($"--tensors {parts}: tensors of {(size + parts - 1) / parts} values pass the 2 GiB a tensor can hold; use at least {(size + Apps.Empty.EmptyApp.MaxTensorValues - 1) / Apps.Empty.EmptyApp.MaxTensorValues}");
            double modelMib = size * 4.0 / 1048576;
            string dir = BenchFigures.FreshFolder("bench-big-model");
            // The model store keeps every round's model (and the initial one), and each node's result is
            // received to a spool file reserved whole: refused up front rather than failing rounds in.
            long diskNeeded = size * 4 * (r + 1 + n);
            long diskFree = FreeBytes(dir);
            if (diskFree < diskNeeded)
                throw new CliException($"bench big-model needs about {diskNeeded / 1e9:0.0} GB free in {dir} (models of {r + 1} rounds and {n} spooled results of {size * 4 / 1e9:0.00} GB); {diskFree / 1e9:0.0} GB are free");
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["params"] = size,
                ["tensors"] = parts,
                ["nodes"] = n,
                ["rounds"] = r,
                ["strategy"] = pr.GetValue(strategy),
                ["evaluate"] = withEvaluate,
                ["model_mib"] = Math.Round(modelMib, 3),
                ["memory_available_mib_start"] = AvailableMib(),
                ["disk_free_gb_start"] = Math.Round(diskFree / 1e9, 1),
            });
            // Uploads are not the server's memory to hold: room enough that the budget never refuses one.
            long uploadMib = (long)Math.Ceiling(modelMib) * (n + 1);
            string[] serverArguments = ["--durability", "process", "--upload-memory-mb", Mib(uploadMib), "--node-upload-memory-mb", Mib(uploadMib)];
            await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"), serverArguments, Path.Combine(dir, "server.log"), ct);
            using var control = new ControlClient(new ConnectionOptions(server.Address, server.AdminToken, server.CaFile));
            var processes = new List<NodeProcess>();
            try
            {
                await RoundOverheadBench.StartEmptyNodesAsync(server, control, processes, n, dir,
                    [$"values={size.ToString(CultureInfo.InvariantCulture)}", "fill=0.5", $"delay_ms={pr.GetValue(delay).ToString(CultureInfo.InvariantCulture)}", $"tensors={parts.ToString(CultureInfo.InvariantCulture)}"], ct);
                Print(figures, "server.idle_rss_mib", server.Memory().Rss);
                string plan = $$"""
                    name: bench-big-model
                    app: { name: empty }
                    strategy: { name: {{pr.GetValue(strategy)}} }
                    rounds: {{r}}
                    selection: { min_available: {{n}}, min_fit: {{n}}, min_evaluate: {{(withEvaluate ? n : 0)}}, fraction_fit: 1.0, fraction_evaluate: {{(withEvaluate ? "1.0" : "0.0")}} }
                    round_timeout: 60m
                    """;
                var run = await control.SubmitAsync(plan, "bench", ct);
                var detail = await RoundOverheadBench.WaitAsync(control, run.Id, ct);
                var spans = detail.Rounds.OrderBy(x => x.Round).Select(x => RunReport.Seconds(x.StartedAt, x.FinishedAt)).ToArray();
                for (int i = 0; i < spans.Length; i++) Print(figures, $"round.{i + 1}.seconds", spans[i]);
                // Where a server step's own cost shows: folding and completing the aggregation (FedOpt's moments read and
                // written there), and the wait for the model and the strategy's checkpoint to be written.
                foreach (var x in detail.Rounds.OrderBy(x => x.Round))
                {
                    Print(figures, $"round.{x.Round}.aggregate_seconds", x.AggregationSeconds);
                    Print(figures, $"round.{x.Round}.save_model_seconds", x.PhaseSeconds.TryGetValue("save_model", out double save) ? save : 0);
                }
                Print(figures, "round.seconds.max", spans.Max());
                var (rss, peak) = server.Memory();
                Print(figures, "server.rss_mib", rss);
                Print(figures, "server.peak_rss_mib", peak);
                Print(figures, "server.peak_over_model", peak / modelMib);
                var nodePeaks = processes.Select(p => ProcessMemory.Read(p.Id).Peak).ToArray();
                for (int i = 0; i < nodePeaks.Length; i++) Print(figures, $"node.{processes[i].Name}.peak_rss_mib", nodePeaks[i]);
                Print(figures, "node.peak_rss_mib.max", nodePeaks.Max());
                Print(figures, "node.peak_over_model.max", nodePeaks.Max() / modelMib);
            }
            finally
            {
                foreach (var p in processes) await p.DisposeAsync();
            }
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    // The free space of the mount that holds the folder: the longest mount point that contains it.
    private static long FreeBytes(string dir)
    {
        var drive = DriveInfo.GetDrives()
            .Where(d => d.IsReady && dir.StartsWith(d.RootDirectory.FullName, StringComparison.Ordinal))
            .MaxBy(d => d.RootDirectory.FullName.Length);
        return (drive ?? new DriveInfo(Path.GetPathRoot(dir)!)).AvailableFreeSpace;
    }

    private static string Mib(long mib) => mib.ToString(CultureInfo.InvariantCulture);

    private static double AvailableMib()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                return Math.Round(double.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024);
        }
        return double.NaN;
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
