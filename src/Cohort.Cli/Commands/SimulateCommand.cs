using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Simulation;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort simulate PLAN</c>: the plan's app as virtual clients in this process, same round logic and state as a deployed run.</summary>
internal static class SimulateCommand
{
    /// <summary>Builds the command; <paramref name="stdout"/> receives its printed lines (the console when null).</summary>
    public static Command Create(TextWriter? stdout = null)
    {
        var plan = new Argument<string>("plan") { Description = "Plan file with a simulation section" };
        var summary = new Option<string?>("--summary") { Description = "Write a JSON summary to this file" };
        var dataDir = new Option<string>("--data-dir") { Description = "Data folder for the state database and models (a server started on it shows the run)", DefaultValueFactory = _ => ".cohort/simulate" };
        var rounds = new Option<int?>("--rounds") { Description = "Override the plan's number of rounds" };
        var set = PlanSetOption.Create();
        var quiet = new Option<bool>("--quiet") { Description = "Print only the summary line" };
        var baseline = new Option<string?>("--baseline") { Description = "Also train this client alone (same network, settings and start) and compare test accuracy per round" };
        var chart = new Option<string?>("--chart") { Description = "Draw test accuracy per round (federated, and the baseline when given) into this PNG" };
        var plugins = PluginOptions.Create();
        var command = new Command("simulate", "Run a plan as N virtual clients in one process (no gRPC): same strategies, metrics and state store as a deployed run")
        {
            plan, summary, dataDir, rounds, set, quiet, baseline, chart, plugins,
        };
        command.SetAction(async (pr, ct) =>
        {
            var console = stdout ?? Console.Out;
            bool isQuiet = pr.GetValue(quiet);
            var result = await RunAsync(pr.GetValue(plan)!, pr.GetValue(dataDir)!, pr.GetValue(rounds), pr.GetValue(summary), isQuiet ? TextWriter.Null : console, ct,
                pr.GetValue(baseline), pr.GetValue(chart), pr.GetValue(plugins), pr.GetValue(set));
            if (isQuiet) console.WriteLine(SummaryLine(result));
            return result["status"]!.GetValue<string>() == RunStatus.Finished.ToText() ? 0 : 1;
        });
        return command;
    }

    // The round line gives a failing client's message only: the first fault of each kind is shown with its stack trace under
    // COHORT_DEBUG=1 (a few kinds at most), and without it the first one says how to see it.
    private static Action<string, Exception> AppFaults(TextWriter output)
    {
        bool debug = Environment.GetEnvironmentVariable("COHORT_DEBUG") is { Length: > 0 };
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        return (client, fault) =>
        {
            string kind = $"{fault.GetType().FullName}: {fault.Message}";
            if (seen.Count >= MaxFaultsShown || !seen.TryAdd(debug ? kind : "", true)) return;
            lock (output)
            {
                output.WriteLine(debug
                    ? $"{client}: the app threw {fault}"
                    : $"{client}: the app threw {fault.GetType().Name}: {fault.Message} (set COHORT_DEBUG=1 to see where)");
            }
        };
    }

    private const int MaxFaultsShown = 5;

    /// <summary>Runs a plan file as a simulation, printing one line per round to <paramref name="output"/>; returns the JSON summary.</summary>
    public static async Task<JsonObject> RunAsync(string planPath, string dataDir, int? rounds, string? summaryFile, TextWriter output, CancellationToken ct,
        string? baselineClient = null, string? chartFile = null, string[]? plugins = null, string[]? set = null)
    {
        var clock = Stopwatch.StartNew();
        var (plan, options, place) = LoadPlaced(planPath, dataDir, rounds, output, plugins, set);
        var perRound = new JsonArray();
        var roundClock = Stopwatch.StartNew();
        options = options with
        {
            OnRound = (round, results) =>
            {
                var info = Server.Control.RunDetails.Round(round, results);
                output.WriteLine(RunReport.RoundLine(info, plan.Rounds, maxNodes: 8));
                perRound.Add((JsonNode)RoundJson(info, roundClock.Elapsed.TotalSeconds));
                roundClock.Restart();
                return Task.CompletedTask;
            },
            OnAppFault = AppFaults(output),
        };
        SimulationRunner.Setup setup;
        try
        {
            setup = SimulationRunner.Prepare(plan, options);
        }
        catch (PlanException e)
        {
            // Its data and partitioner problems are placed in the text the plan was read from, --set values applied.
            throw place(e);
        }
        var spec = plan.Simulation!;
        output.WriteLine($"simulating '{plan.Name}': {spec.Clients} virtual clients, {spec.Workers} workers, partitioner {spec.Partitioner.Name}, strategy {plan.Strategy.Name}, {plan.Rounds} rounds");
        if (baselineClient is not null && !setup.Names.Contains(baselineClient))
            throw new CliException($"--baseline: no client '{baselineClient}' (clients: {string.Join(", ", setup.Names.Take(20))}{(setup.Names.Count > 20 ? ", …" : "")})");
        output.WriteLine(PartitionReport.Summary(setup.Partitions, setup.Dataset));
        if (spec.Histogram) output.Write(PartitionReport.Histogram(setup.Partitions, setup.Dataset, setup.Names));
        var result = await SimulationRunner.RunAsync(plan, options, setup, ct);
        var summary = new JsonObject
        {
            ["run"] = result.Run.Id,
            ["plan"] = Path.GetFullPath(planPath),
            ["status"] = result.Run.Status.ToText(),
            ["error"] = result.Run.Error,
            ["clients"] = result.Clients,
            ["workers"] = spec.Workers,
            ["partitioner"] = spec.Partitioner.Name,
            ["strategy"] = plan.Strategy.Name,
            ["rounds_planned"] = plan.Rounds,
            ["rounds_done"] = result.Run.RoundsDone,
            ["wall_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3),
            ["peak_running_clients"] = result.PeakRunning,
            ["partition_bytes"] = result.PartitionBytes,
            ["data_dir"] = Path.GetFullPath(dataDir),
            ["model"] = result.ModelPath,
            ["rounds"] = perRound,
        };
        if (perRound.LastOrDefault() is JsonObject last)
        {
            foreach (var key in new[] { "loss", "accuracy", "auc", "pr_auc", "f1", "central_loss", "central_accuracy", "central_auc", "central_pr_auc", "central_f1" })
                summary[$"final_{key}"] = last[key]?.DeepClone();
        }
        output.WriteLine(result.Run.Status == RunStatus.Finished
            ? $"simulation finished: {result.Run.RoundsDone} rounds in {clock.Elapsed.TotalSeconds:0.0}s, model {result.ModelPath}"
            : $"simulation {result.Run.Status.ToText()}: {result.Run.Error}");
        var federated = perRound.Select(r => (r!["round"]!.GetValue<int>(), r["central_accuracy"]?.GetValue<double>() ?? double.NaN)).ToList();
        var series = new List<Charts.AccuracyChart.Series> { new("federated (FedAvg)", federated) };
        if (baselineClient is not null && result.Run.Status == RunStatus.Finished)
        {
            output.WriteLine($"training {baselineClient} alone for {plan.Rounds} rounds (same network, settings and initial model) ...");
            var points = await SingleClientBaseline.RunAsync(plan, setup, baselineClient,
                p => output.WriteLine($"round {p.Round,3}/{plan.Rounds}  {baselineClient} alone: test acc {RunReport.Num(p.Accuracy)}  |  federated: test acc {RunReport.Num(federated.FirstOrDefault(f => f.Item1 == p.Round).Item2)}"), ct);
            summary["baseline"] = BaselineJson(baselineClient, points);
            series.Add(new($"{baselineClient} alone", points.Select(p => (p.Round, p.Accuracy)).ToList()));
        }
        if (chartFile is not null)
        {
            Charts.AccuracyChart.Write(chartFile, $"{plan.Name}: test accuracy per round", "test accuracy (central test set)", series);
            summary["chart"] = Path.GetFullPath(chartFile);
            output.WriteLine($"chart written to {chartFile}");
        }
        if (summaryFile is not null)
        {
            string full = Path.GetFullPath(summaryFile);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            await File.WriteAllTextAsync(full, summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct);
            output.WriteLine($"summary written to {summaryFile}");
        }
        return summary;
    }

    /// <summary>One line from a simulation's JSON summary: status, rounds, final loss/accuracy/AUC (central test set when there is one) and wall time.</summary>
    public static string SummaryLine(JsonObject summary)
    {
        var parts = new List<string>
        {
            $"simulation {summary["status"]?.GetValue<string>()}",
            $"{summary["rounds_done"]?.GetValue<int>()}/{summary["rounds_planned"]?.GetValue<int>()} rounds",
        };
        bool central = summary["final_central_loss"] is not null || summary["final_central_accuracy"] is not null;
        foreach (var key in new[] { "loss", "accuracy", "auc" })
        {
            if (summary[central ? $"final_central_{key}" : $"final_{key}"] is JsonValue v && v.TryGetValue<double>(out double x))
                parts.Add($"{(central ? "test " : "")}{key} {RunReport.Num(x)}");
        }
        parts.Add($"{summary["wall_seconds"]?.GetValue<double>().ToString("0.0", CultureInfo.InvariantCulture)}s");
        string line = string.Join(", ", parts);
        return summary["error"] is JsonValue e && e.GetValue<string>() is { Length: > 0 } error ? $"{line}: {error}" : line;
    }

    /// <summary>Parses a plan file and the simulation options for it (data paths relative to the plan's folder).</summary>
    public static (Plan Plan, SimulationOptions Options) Load(string planPath, string dataDir, int? rounds, TextWriter? log, string[]? plugins = null, string[]? set = null)
    {
        var (plan, options, _) = LoadPlaced(planPath, dataDir, rounds, log, plugins, set);
        return (plan, options);
    }

    // Also returns how to place a later error about the plan (found in the text with --set values applied) where the user sees it.
    private static (Plan Plan, SimulationOptions Options, Func<PlanException, PlanException> Place) LoadPlaced(string planPath, string dataDir, int? rounds, TextWriter? log,
        string[]? plugins, string[]? set)
    {
        var strategies = Strategies.StrategyRegistry.CreateDefault();
        var apps = Plugins.AppCatalog.CreateDefault();
        PluginOptions.Load(plugins, strategies, apps);
        string original = PlanFile.Read(planPath);
        var overrides = PlanOverrides.Parse([.. set ?? [], .. rounds is { } r ? [$"rounds={r.ToString(CultureInfo.InvariantCulture)}"] : Array.Empty<string>()]);
        string yaml = overrides.Apply(original, planPath);
        var options = new SimulationOptions
        {
            DataDir = dataDir,
            PlanSource = planPath,
            BaseDirectory = Path.GetDirectoryName(Path.GetFullPath(planPath))!,
            Log = log,
            Strategies = strategies,
            Apps = apps.Factories,
        };
        Plan plan;
        try
        {
            plan = PlanParser.Parse(yaml, planPath, options.Strategies);
            // Here, so that a minimum set with --set is blamed on that option.
            if (SimulationSelectionLimits.Problems(plan, planPath) is { Count: > 0 } unmet) throw PlanException.Of(unmet);
        }
        catch (PlanException e)
        {
            throw overrides.Blame(e, original, yaml);
        }
        return (plan, options, e => overrides.Blame(e, original, yaml));
    }

    /// <summary>The baseline's rounds as JSON.</summary>
    public static JsonObject BaselineJson(string client, IReadOnlyList<SingleClientBaseline.Point> points) => new()
    {
        ["client"] = client,
        ["rounds"] = new JsonArray(points.Select(p => (JsonNode)new JsonObject { ["round"] = p.Round, ["central_loss"] = Math.Round(p.Loss, 5), ["central_accuracy"] = Math.Round(p.Accuracy, 5) }).ToArray()),
        ["final_central_accuracy"] = points.Count > 0 ? Math.Round(points[^1].Accuracy, 5) : null,
    };

    private static JsonObject RoundJson(RoundInfo r, double seconds)
    {
        static JsonNode? N(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 5)) : null;
        static double M(Google.Protobuf.Collections.MapField<string, Transport.V1.Scalar> m, string k) => m.TryGetValue(k, out var v) ? RunReport.Value(v) : double.NaN;
        var json = new JsonObject
        {
            ["round"] = r.Round,
            ["status"] = r.Status,
            ["seconds"] = Math.Round(seconds, 4),
            ["loss"] = N(r.Loss),
            ["accuracy"] = N(M(r.Metrics, "accuracy")),
            ["auc"] = N(M(r.Metrics, "auc")),
            ["pr_auc"] = N(M(r.Metrics, "pr_auc")),
            ["f1"] = N(M(r.Metrics, "f1")),
            ["central_loss"] = r.HasCentral ? N(r.CentralLoss) : null,
            ["central_accuracy"] = r.HasCentral ? N(M(r.CentralMetrics, "accuracy")) : null,
            ["central_auc"] = r.HasCentral ? N(M(r.CentralMetrics, "auc")) : null,
            ["central_pr_auc"] = r.HasCentral ? N(M(r.CentralMetrics, "pr_auc")) : null,
            ["central_f1"] = r.HasCentral ? N(M(r.CentralMetrics, "f1")) : null,
            ["fit_ok"] = r.Nodes.Count(n => n.TypedPhase() == Cohort.Clients.TaskKind.Fit && n.Ok),
            ["fit_failed"] = r.Nodes.Count(n => n.TypedPhase() == Cohort.Clients.TaskKind.Fit && !n.Ok),
            ["evaluate_ok"] = r.Nodes.Count(n => n.TypedPhase() == Cohort.Clients.TaskKind.Evaluate && n.Ok),
            ["aggregation_seconds"] = Math.Round(r.AggregationSeconds, 5),
        };
        // Threshold and ranking figures exist only for binary apps; other rounds do not carry empty keys for them.
        foreach (var key in new[] { "auc", "pr_auc", "f1", "central_auc", "central_pr_auc", "central_f1" })
            if (json[key] is null) json.Remove(key);
        return json;
    }
}
