using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Cli.Commands;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Simulation;
using Cohort.Strategies;
using Cohort.Transport.V1;
using Spectre.Console;
using Cohort.Records;

namespace Cohort.Cli.Demo;

/// <summary><c>cohort demo NAME</c>: a whole federation on this machine, end to end, in one command.</summary>
internal static class DemoCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var name = new Argument<string>("name")
        {
            Description = $"Which demo ({string.Join(", ", DemoSpec.All.Select(d => d.Name))})",
            DefaultValueFactory = _ => "heart-disease",
        };
        var rounds = new Option<int?>("--rounds") { Description = "Override the plan's number of rounds" };
        var strategy = new Option<string?>("--strategy") { Description = "Override the plan's strategy" };
        var summary = new Option<string?>("--summary") { Description = "Write a JSON summary to this file" };
        var outDir = new Option<string?>("--out-dir") { Description = "Folder for the server state, node logs and the model; emptied first, and refused when it holds files no demo wrote [default: .cohort/demo/NAME, so each demo keeps its last model]" };
        var command = new Command("demo", "Run a demo federation end to end: embedded server, one node process per site, real gRPC with TLS")
        {
            name, rounds, strategy, summary, outDir,
        };
        command.SetAction(async (pr, ct) =>
        {
            string demoName = pr.GetValue(name)!;
            var demo = DemoSpec.All.FirstOrDefault(d => d.Name == demoName)
                ?? throw new CliException($"unknown demo '{demoName}' (allowed: {string.Join(", ", DemoSpec.All.Select(d => d.Name))})");
            return await RunAsync(demo, pr.GetValue(rounds), pr.GetValue(strategy), pr.GetValue(summary), Path.GetFullPath(pr.GetValue(outDir) ?? Path.Combine(".cohort", "demo", demo.Name)), ct);
        });
        return command;
    }

    /// <summary>The file that marks a folder as a demo's, which the next demo may empty.</summary>
    private const string DemoMarker = ".cohort-demo";

    /// <summary>
    /// Every demo starts from an empty folder: a fresh server state, and the demo's files when they come from the program.
    /// Only a folder an earlier demo made is emptied; any other folder holding files is refused, never deleted.
    /// </summary>
    private static async Task PrepareOutDirAsync(string outDir, CancellationToken ct)
    {
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
        {
            if (!File.Exists(Path.Combine(outDir, DemoMarker)) && !File.Exists(Path.Combine(outDir, "server", "cohort.db")))
                throw new CliException($"--out-dir {outDir} holds files that no demo wrote; the demo empties its folder first, so give it a new or empty one");
            Directory.Delete(outDir, recursive: true);
        }
        Directory.CreateDirectory(outDir);
        await File.WriteAllTextAsync(Path.Combine(outDir, DemoMarker), "written by cohort demo; the next demo in this folder empties it first\n", ct);
    }

    private static async Task<int> RunAsync(DemoSpec demo, int? rounds, string? strategy, string? summaryFile, string outDir, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        // Checked first: an option the plan refuses must not cost the last demo's model or start a process.
        string yaml = DemoOverrides.Apply(demo.ReadPlan(), demo.PlanFile, rounds, strategy);
        await PrepareOutDirAsync(outDir, ct);
        string root = demo.Locate(outDir);
        string planPath = Path.Combine(root, demo.PlanFile);

        Console.WriteLine($"Cohort demo: {demo.Description}");
        Console.WriteLine($"starting a server and {demo.Sites.Count} node processes ({string.Join(", ", demo.Sites.Select(s => s.Node))}) in {outDir}");
        var sites = demo.Sites.Select(s => (s.Node, demo.Partitioned
            ? (IReadOnlyList<string>)["--set", $"{PartitionedAppFactory.PlanKey}={planPath}", "--set", $"{PartitionedAppFactory.ClientKey}={s.Node}"]
            : ["--data", Path.Combine(root, s.DataFile)])).ToArray();
        Plan? plan = null;
        SimulationRunner.Setup? setup = null;
        StrategyServices? services = null;
        if (demo.Partitioned)
        {
            // The server (embedded here) tests every global model on the data set's own test set.
            plan = PlanParser.Parse(yaml, planPath, StrategyRegistry.CreateDefault());
            var factory = Apps.BuiltInApps.Find(demo.App) as Apps.ISimulationAppFactory ?? throw new CliException($"app '{demo.App}' cannot be partitioned");
            setup = PartitionedAppFactory.SetupOf(planPath, factory);
            Console.WriteLine(PartitionReport.Summary(setup.Partitions, setup.Dataset));
            Console.Write(PartitionReport.Histogram(setup.Partitions, setup.Dataset, setup.Names));
            var p = plan;
            services = new StrategyServices(CentralEvaluator: (round, global, token) => setup.Dataset.EvaluateCentralAsync(global, p.EvaluateConfig(round), token));
        }
        await using var federation = await LocalFederation.StartAsync(outDir, demo.App, sites, ct, services);
        Console.WriteLine($"server {federation.Server.Address} (TLS), {demo.Sites.Count} nodes online after {clock.Elapsed.TotalSeconds:0.0}s");
        if (federation.Server.DashboardAddress is { } dashboard)
            Console.WriteLine($"dashboard {dashboard} while the demo runs (token: {Cohort.Server.Hosting.CohortServerHost.AdminTokenFile(federation.Server.DataDir)})");

        var run = await federation.Control.SubmitAsync(yaml, Path.GetFileName(planPath), ct);
        Console.WriteLine($"run {run.Id}: strategy {run.Strategy}, {Counted.Of(run.RoundsPlanned, "round")}");
        var detail = await FollowAsync(federation.Control, run, ct);
        if (detail.Run.TypedStatus() != RunStatus.Finished)
        {
            Console.Error.WriteLine($"run {run.Id} {detail.Run.Status}: {detail.Run.Error}");
            return 1;
        }

        var (model, modelRound) = await federation.Control.PullModelAsync(run.Id, 0, ct);
        string modelPath = Path.Combine(outDir, "model.cps");
        await ParameterSetFile.WriteAsync(modelPath, model, ct);
        var summary = Summarize(detail, clock.Elapsed.TotalSeconds, modelPath);
        PrintSummary(summary, modelRound);
        // The demo's server stops with it; its state stays, for the dashboard and the CLI to open afterwards.
        Console.WriteLine($"to browse this run afterwards: ./cohort server --data-dir {ShownPath(federation.Server.DataDir, Environment.CurrentDirectory)}, then its dashboard at https://localhost:7301/");
        if (demo.Baseline is { } client && plan is not null && setup is not null)
            await CompareWithBaselineAsync(detail, plan, setup, client, outDir, summary, ct);
        if (summaryFile is not null)
        {
            // The same provenance as every benchmark's figures: commit, command line, CPU, load, versions.
            await Commands.BenchFigures.SaveAsync(summary, summaryFile, ct);
            Console.WriteLine($"summary written to {summaryFile}");
        }
        return 0;
    }

    /// <summary><paramref name="path"/> relative to <paramref name="from"/> when it lies under it, else in full: never a path that climbs out.</summary>
    internal static string ShownPath(string path, string from)
    {
        string full = Path.GetFullPath(path);
        string relative = Path.GetRelativePath(Path.GetFullPath(from), full);
        bool climbs = relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative);
        return climbs ? full : relative;
    }

    private static async Task<RunDetail> FollowAsync(ControlClient control, RunInfo run, CancellationToken ct)
    {
        int printed = 0;
        RunDetail detail = null!;
        bool interactive = AnsiConsole.Profile.Capabilities.Interactive;
        async Task Poll(Action<RunDetail> onUpdate)
        {
            while (true)
            {
                detail = await control.GetAsync(run.Id, ct);
                foreach (var round in detail.Rounds.Where(x => x.Round > printed).OrderBy(x => x.Round))
                {
                    // Plain output is for logs and pipes: never wrap it at a guessed terminal width.
                    if (interactive) AnsiConsole.WriteLine(RunReport.RoundLine(round, run.RoundsPlanned));
                    else Console.WriteLine(RunReport.RoundLine(round, run.RoundsPlanned));
                    printed = round.Round;
                }
                onUpdate(detail);
                if (detail.Run.TypedStatus().IsFinal()) return;
                await Task.Delay(150, ct);
            }
        }

        if (interactive)
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async ctx =>
                {
                    var bar = ctx.AddTask("rounds", maxValue: run.RoundsPlanned);
                    await Poll(d => bar.Value = d.Run.RoundsDone);
                    bar.Value = bar.MaxValue;
                });
        }
        else
        {
            await Poll(_ => { });
        }
        return detail;
    }

    private static async Task CompareWithBaselineAsync(RunDetail detail, Plan plan, SimulationRunner.Setup setup, string client, string outDir, JsonObject summary, CancellationToken ct)
    {
        var federated = detail.Rounds.Where(r => r.TypedStatus() == RoundStatus.Done && r.HasCentral).OrderBy(r => r.Round)
            .Select(r => (r.Round, Accuracy: r.CentralMetrics.TryGetValue("accuracy", out var a) ? RunReport.Value(a) : double.NaN)).ToList();
        Console.WriteLine($"training {client} alone for {plan.Rounds} rounds (same network, settings and initial model) ...");
        var points = await SingleClientBaseline.RunAsync(plan, setup, client, p =>
            Console.WriteLine($"round {p.Round,3}/{plan.Rounds}  federated: test acc {RunReport.Num(federated.FirstOrDefault(f => f.Round == p.Round).Accuracy)}  |  {client} alone: test acc {RunReport.Num(p.Accuracy)}"), ct);
        string chart = Path.Combine(outDir, "accuracy.png");
        Charts.AccuracyChart.Write(chart, $"{plan.Name}: federated (3 agents) vs {client} alone", "test accuracy (10,000 MNIST test images)",
            [new("federated (FedAvg, deployed)", federated), new($"{client} alone", points.Select(p => (p.Round, p.Accuracy)).ToList())]);
        summary["federated"] = new JsonArray(federated.Select(f => (JsonNode)new JsonObject { ["round"] = f.Round, ["central_accuracy"] = Math.Round(f.Accuracy, 5) }).ToArray());
        summary["final_federated_accuracy"] = federated.Count > 0 ? Math.Round(federated[^1].Accuracy, 5) : null;
        summary["baseline"] = SimulateCommand.BaselineJson(client, points);
        summary["chart"] = chart;
        Console.WriteLine($"final test accuracy: federated {RunReport.Num(federated.LastOrDefault().Accuracy)}, {client} alone {RunReport.Num(points.LastOrDefault()?.Accuracy ?? double.NaN)}; chart {chart}");
    }

    /// <summary>The demo's JSON summary from the final round's per-node evaluations.</summary>
    public static JsonObject Summarize(RunDetail detail, double wallSeconds, string modelPath)
    {
        var last = detail.Rounds.Where(r => r.TypedStatus() == RoundStatus.Done).OrderBy(r => r.Round).Last();
        var nodes = new JsonArray();
        double accuracySum = 0, correct = 0, tested = 0;
        int count = 0;
        foreach (var e in last.Nodes.Where(n => n.TypedPhase() == Cohort.Clients.TaskKind.Evaluate && n.Ok).OrderBy(n => n.Node, StringComparer.Ordinal))
        {
            var fit = detail.Rounds.SelectMany(r => r.Nodes).LastOrDefault(n => n.Node == e.Node && n.TypedPhase() == Cohort.Clients.TaskKind.Fit && n.Ok);
            double accuracy = e.Metrics.TryGetValue("accuracy", out var a) ? RunReport.Value(a) : double.NaN;
            double auc = e.Metrics.TryGetValue("auc", out var u) ? RunReport.Value(u) : double.NaN;
            double prAuc = e.Metrics.TryGetValue("pr_auc", out var pr) ? RunReport.Value(pr) : double.NaN;
            double f1 = e.Metrics.TryGetValue("f1", out var f) ? RunReport.Value(f) : double.NaN;
            long trainExamples = fit is null ? 0 : fit.Metrics.TryGetValue("train_examples", out var t) ? (long)RunReport.Value(t) : fit.Examples;
            nodes.Add((JsonNode)new JsonObject
            {
                ["name"] = e.Node,
                ["train_examples"] = trainExamples,
                ["test_examples"] = e.Examples,
                ["accuracy"] = Round(accuracy),
                ["auc"] = Round(auc),
                ["pr_auc"] = Round(prAuc),
                ["f1"] = Round(f1),
                ["loss"] = Round(e.Loss),
            });
            accuracySum += accuracy;
            correct += accuracy * e.Examples;
            tested += e.Examples;
            count++;
        }
        return new JsonObject
        {
            ["run"] = detail.Run.Id,
            ["strategy"] = detail.Run.Strategy,
            ["rounds"] = last.Round,
            ["wall_seconds"] = Math.Round(wallSeconds, 2),
            ["nodes"] = nodes,
            ["mean_accuracy"] = Round(count > 0 ? accuracySum / count : double.NaN),
            ["pooled_accuracy"] = Round(tested > 0 ? correct / tested : double.NaN),
            // The strategy's summary of the final round: for binary apps that send score histograms and
            // confusion counts, the AUC, PR-AUC and F1 of all sites' test rows pooled.
            ["auc"] = Round(Global(last, "auc")),
            ["pr_auc"] = Round(Global(last, "pr_auc")),
            ["f1"] = Round(Global(last, "f1")),
            ["auc_site_mean"] = Round(Global(last, "auc_site_mean")),
            ["model"] = modelPath,
        };
    }

    private static double Global(RoundInfo round, string key) => round.Metrics.TryGetValue(key, out var v) ? RunReport.Value(v) : double.NaN;

    private static JsonNode? Round(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 4)) : null;

    private static void PrintSummary(JsonObject s, int modelRound)
    {
        // Without federated evaluation (tested centrally instead) there is no per-node table to show.
        if (s["nodes"]!.AsArray().Count == 0)
        {
            Console.WriteLine($"{s["wall_seconds"]}s wall; global model (round {modelRound}) saved to {s["model"]}");
            return;
        }
        var table = new Table().AddColumns("node", "train", "test", "loss", "accuracy", "auc", "pr_auc", "f1");
        foreach (var n in s["nodes"]!.AsArray())
            table.AddRow(n!["name"]!.ToString(), n["train_examples"]!.ToString(), n["test_examples"]!.ToString(),
                n["loss"]?.ToString() ?? "-", n["accuracy"]?.ToString() ?? "-", n["auc"]?.ToString() ?? "-", n["pr_auc"]?.ToString() ?? "-", n["f1"]?.ToString() ?? "-");
        AnsiConsole.Write(table);
        string pooled = s["pr_auc"] is null ? "" : $", pooled auc {s["auc"]} pr_auc {s["pr_auc"]} f1 {s["f1"]}";
        Console.WriteLine($"mean accuracy {s["mean_accuracy"]}, pooled accuracy {s["pooled_accuracy"]}{pooled}, {s["wall_seconds"]}s wall");
        Console.WriteLine($"global model (round {modelRound}) saved to {s["model"]}");
    }
}
