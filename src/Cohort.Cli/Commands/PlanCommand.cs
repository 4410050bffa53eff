using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort plan check PLAN</c>: parses and validates a plan offline, as submit and simulate would, and prints what it asks for or every problem.</summary>
internal static class PlanCommand
{
    // Plan problems quote names ('x') and bounds (>= 0): kept as written, not escaped for HTML.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Builds the command group; <paramref name="stdout"/> and <paramref name="stderr"/> receive its lines (the console when null).</summary>
    public static Command Create(TextWriter? stdout = null, TextWriter? stderr = null)
    {
        var plan = new Argument<string>("plan") { Description = "Plan file (YAML)" };
        var set = PlanSetOption.Create();
        var json = new Option<bool>("--json") { Description = "Print the plan's values, or its problems, as JSON" };
        var plugins = PluginOptions.Create();
        var check = new Command("check", "Check a plan without a server: every problem as FILE:LINE:COLUMN: PROBLEM (exit 1), or a summary of the run it describes (exit 0)")
        {
            plan, set, json, plugins,
        };
        check.SetAction(pr => Check(pr.GetValue(plan)!, pr.GetValue(set), pr.GetValue(json), pr.GetValue(plugins), stdout ?? Console.Out, stderr ?? Console.Error));
        return new Command("plan", "Work with plan files") { check };
    }

    /// <summary>Checks the plan file at <paramref name="path"/>; returns the exit code (0 usable, 1 not).</summary>
    public static int Check(string path, string[]? set, bool json, string[]? plugins, TextWriter stdout, TextWriter stderr)
    {
        // The registries submit and simulate use, with the same plugins, so a plan that passes here names only what they know.
        var strategies = StrategyRegistry.CreateDefault();
        var apps = Plugins.AppCatalog.CreateDefault();
        PluginOptions.Load(plugins, strategies, apps);
        string original = PlanFile.Read(path);
        string yaml = original;
        var overrides = PlanOverrides.Parse(set);
        Plan? read = null;
        try
        {
            yaml = overrides.Apply(original, path);
            PlanException? planProblems = null;
            try
            {
                read = PlanParser.Parse(yaml, path, strategies);
            }
            catch (PlanException e)
            {
                planProblems = e;
            }
            // A built-in app (or a plugin's) that checks its settings does so here too, without data, and beside the plan's
            // other problems: a misspelt setting is found now rather than by every node's preflight at submit.
            var app = read?.App ?? PlanParser.ParseApp(yaml, path);
            var appProblems = app is null ? [] : PlanAppSettings.Problems(path, yaml, app, apps, read?.Strategy.Name);
            // With a simulation section the clients are known: a selection they can never meet is found now, as simulate finds it.
            var unmet = read is null ? [] : SimulationSelectionLimits.Problems(read, path);
            if (planProblems is not null || appProblems.Count > 0 || unmet.Count > 0) throw PlanException.Of([.. planProblems?.Errors ?? [], .. appProblems, .. unmet]);
        }
        catch (PlanException e)
        {
            var errors = overrides.Blame(e, original, yaml).Errors;
            if (json)
            {
                stdout.WriteLine(new JsonObject
                {
                    ["plan"] = path,
                    ["ok"] = false,
                    ["errors"] = new JsonArray([.. errors.Select(ErrorJson)]),
                }.ToJsonString(Indented));
            }
            else
            {
                foreach (var error in errors) stderr.WriteLine(error.Message);
                stderr.WriteLine($"{path}: {Counted.Of(errors.Count, "problem")}");
            }
            return 1;
        }

        var parsed = read!;
        var notes = Notes(parsed, apps);
        if (json)
        {
            var summary = Json(parsed, strategies);
            summary["notes"] = new JsonArray([.. notes.Select(n => (JsonNode)n)]);
            var output = new JsonObject { ["plan"] = path, ["ok"] = true };
            foreach (var (k, v) in summary) output[k] = v?.DeepClone();
            stdout.WriteLine(output.ToJsonString(Indented));
        }
        else
        {
            stdout.Write(Text(path, parsed, strategies));
            foreach (var note in notes) stderr.WriteLine($"note: {note}");
        }
        return 0;
    }

    // Nodes may run an app of their own (CohortNode.RunAsync), so an app the CLI does not know is a note, not an error.
    private static List<string> Notes(Plan plan, Plugins.AppCatalog apps)
    {
        var notes = new List<string>();
        if (apps.Find(plan.App.Name) is null)
        {
            var names = apps.Factories.Select(f => f.Name).ToArray();
            notes.Add($"app '{plan.App.Name}' is not a built-in app or one from --plugin{NearestName.Hint(plan.App.Name, names)}; " +
                $"only nodes running an app of that name take part (known here: {string.Join(", ", names)})");
        }
        return notes;
    }

    /// <summary>The plan as a short, aligned summary: one line per thing a user would check.</summary>
    internal static string Text(string path, Plan plan, StrategyRegistry strategies)
    {
        var sb = new StringBuilder();
        void Line(string label, string value) => sb.Append(CultureInfo.InvariantCulture, $"  {label,-13}{value}\n");

        sb.Append(CultureInfo.InvariantCulture, $"{path}: plan '{plan.Name}' is valid\n");
        if (plan.Experiment is { } experiment && experiment != plan.Name) Line("experiment", experiment);
        if (plan.Tags.Count > 0) Line("tags", string.Join(", ", plan.Tags));
        Line("app", $"{plan.App.Name}{(plan.App.Settings.Count == 0 ? "" : $" ({Counted.Of(plan.App.Settings.Count, "setting")}: {Pairs(plan.App.Settings)})")}");
        if (plan.Dataset is { } dataset) Line("dataset", dataset);
        Line("strategy", Strategy(plan.Strategy, strategies));
        Line("rounds", plan.Asynchronous is null ? Num(plan.Rounds) : $"{Num(plan.Rounds)} (model versions)");
        var s = plan.Selection;
        Line("selection", $"min_available {Num(s.MinAvailable)}, min_fit {Num(s.MinFit)}, min_evaluate {Num(s.MinEvaluate)}, " +
            $"fraction_fit {Num(s.FractionFit)}, fraction_evaluate {Num(s.FractionEvaluate)}" +
            (s.AcceptFirst is { } k ? $", accept_first {Num(k)}" : "") +
            (s.Nodes.Count > 0 ? $", nodes {string.Join(", ", s.Nodes)}" : ""));
        Line("timeouts", $"round_timeout {Duration(plan.RoundTimeout)}, wait_for_nodes {Duration(plan.WaitForNodes)}, preflight_timeout {Duration(plan.PreflightTimeout)}");
        Line("train", Train(plan.Train));
        Line("seed", Num(plan.Seed));
        if (plan.RoundConfig.Count > 0) Line("config", Pairs(plan.RoundConfig));
        var f = plan.Failure;
        if (f != new FailurePolicy())
        {
            Line("failure", $"min_completion_rate {Num(f.MinCompletionRate)}, retries {Num(f.Retries)}, max_examples {Num(f.MaxExamples)}, example_tolerance {Num(f.ExampleTolerance)}" +
                (f.OfflineGrace is { } grace ? $", offline_grace {Duration(grace)}" : ""));
        }
        if (plan.Privacy is { } p)
            Line("privacy", $"{(p.Local ? "local" : "central")}, clipping_norm {Num(p.ClippingNorm)}, noise_multiplier {Num(p.NoiseMultiplier)}, delta {Num(p.Delta)}");
        if (plan.Personalization.Enabled) Line("personalized", string.Join(", ", plan.Personalization.Local));
        if (plan.Asynchronous is { } a)
        {
            Line("asynchronous", $"buffer_size {Num(a.BufferSize)}, concurrency {(a.Concurrency == 0 ? "every available node" : Num(a.Concurrency))}, " +
                $"server_learning_rate {Num(a.ServerLearningRate)}, staleness {a.Staleness.Type}" +
                a.Staleness.Type switch { "polynomial" => $" (a {Num(a.Staleness.A)})", "hinge" => $" (a {Num(a.Staleness.A)}, b {Num(a.Staleness.B)})", _ => "" });
        }
        if (plan.CentralEvaluation is { } c) Line("central eval", c.File);
        if (plan.Simulation is { } sim)
        {
            Line("simulation", $"{Counted.Of(sim.Clients, "client")}, {Counted.Of(sim.Workers, "worker")}, partitioner {sim.Partitioner.Name}" +
                (sim.Partitioner.Parameters.Count > 0 ? $" ({Pairs(sim.Partitioner.Parameters)})" : "") +
                (sim.Data.Count > 0 ? $", data {Pairs(sim.Data)}" : ""));
        }
        return sb.ToString();
    }

    /// <summary>The plan's values as JSON: durations in seconds, settings and parameters with their YAML types.</summary>
    internal static JsonObject Json(Plan plan, StrategyRegistry strategies)
    {
        var t = plan.Train;
        var f = plan.Failure;
        var descriptor = strategies.Find(plan.Strategy.Name);
        return new JsonObject
        {
            ["name"] = plan.Name,
            ["experiment"] = plan.Experiment,
            ["tags"] = new JsonArray([.. plan.Tags.Select(x => (JsonNode)x)]),
            ["app"] = new JsonObject { ["name"] = plan.App.Name, ["settings"] = ConfigJson(plan.App.Settings) },
            ["dataset"] = plan.Dataset,
            ["strategy"] = new JsonObject
            {
                ["name"] = descriptor?.Name ?? plan.Strategy.Name,
                ["origin"] = strategies.OriginOf(plan.Strategy.Name),
                ["params"] = ConfigJson(plan.Strategy.Parameters),
                ["defaults"] = new JsonObject(descriptor?.Parameters.Where(x => !plan.Strategy.Parameters.ContainsKey(x.Name))
                    .Select(x => KeyValuePair.Create(x.Name, (JsonNode?)x.Default)) ?? []),
            },
            ["rounds"] = plan.Rounds,
            ["selection"] = new JsonObject
            {
                ["min_available"] = plan.Selection.MinAvailable,
                ["min_fit"] = plan.Selection.MinFit,
                ["min_evaluate"] = plan.Selection.MinEvaluate,
                ["fraction_fit"] = plan.Selection.FractionFit,
                ["fraction_evaluate"] = plan.Selection.FractionEvaluate,
                ["nodes"] = new JsonArray([.. plan.Selection.Nodes.Select(x => (JsonNode)x)]),
                ["accept_first"] = plan.Selection.AcceptFirst,
            },
            ["round_timeout_seconds"] = plan.RoundTimeout.TotalSeconds,
            ["wait_for_nodes_seconds"] = plan.WaitForNodes.TotalSeconds,
            ["preflight_timeout_seconds"] = plan.PreflightTimeout.TotalSeconds,
            ["train"] = new JsonObject
            {
                ["local_epochs"] = t.LocalEpochs,
                ["local_steps"] = t.LocalSteps,
                ["batch_size"] = t.BatchSize,
                ["optimizer"] = t.Optimizer,
                ["learning_rate"] = t.LearningRate,
                ["weight_decay"] = t.WeightDecay,
                ["momentum"] = t.Momentum,
                ["lr_schedule"] = new JsonObject
                {
                    ["type"] = t.Schedule.Type,
                    ["gamma"] = t.Schedule.Gamma,
                    ["step_size"] = t.Schedule.StepSize,
                    ["min_lr"] = t.Schedule.MinLearningRate,
                },
            },
            ["seed"] = plan.Seed,
            ["config"] = ConfigJson(plan.RoundConfig),
            ["failure"] = new JsonObject
            {
                ["min_completion_rate"] = f.MinCompletionRate,
                ["retries"] = f.Retries,
                ["max_examples"] = f.MaxExamples,
                ["example_tolerance"] = f.ExampleTolerance,
                ["offline_grace_seconds"] = f.OfflineGrace?.TotalSeconds,
            },
            ["personalization"] = new JsonObject { ["local"] = new JsonArray([.. plan.Personalization.Local.Select(x => (JsonNode)x)]) },
            ["asynchronous"] = plan.Asynchronous is { } a
                ? new JsonObject
                {
                    ["buffer_size"] = a.BufferSize,
                    ["concurrency"] = a.Concurrency,
                    ["server_learning_rate"] = a.ServerLearningRate,
                    ["staleness"] = new JsonObject { ["type"] = a.Staleness.Type, ["a"] = a.Staleness.A, ["b"] = a.Staleness.B },
                }
                : null,
            ["privacy"] = plan.Privacy is { } p
                ? new JsonObject { ["mode"] = p.Local ? "local" : "central", ["clipping_norm"] = p.ClippingNorm, ["noise_multiplier"] = p.NoiseMultiplier, ["delta"] = p.Delta }
                : null,
            ["central_evaluation"] = plan.CentralEvaluation is { } c ? new JsonObject { ["file"] = c.File } : null,
            ["simulation"] = plan.Simulation is { } sim
                ? new JsonObject
                {
                    ["clients"] = sim.Clients,
                    ["workers"] = sim.Workers,
                    ["partitioner"] = new JsonObject { ["name"] = sim.Partitioner.Name, ["params"] = ConfigJson(sim.Partitioner.Parameters) },
                    ["data"] = ConfigJson(sim.Data),
                    ["histogram"] = sim.Histogram,
                }
                : null,
        };
    }

    private static JsonNode ErrorJson(PlanException e) => new JsonObject
    {
        ["source"] = e.Source,
        ["line"] = e.Line,
        ["column"] = e.Column,
        ["problem"] = e.Problem,
        ["message"] = e.Message,
    };

    private static JsonObject ConfigJson(Config config) =>
        new(config.Select(kv => KeyValuePair.Create(kv.Key, ScalarJson(kv.Value))));

    private static JsonNode? ScalarJson(Scalar v) => v.Kind switch
    {
        ScalarKind.Bool => v.AsBool(),
        ScalarKind.Int => v.AsInt(),
        ScalarKind.Double => v.AsDouble(),
        _ => v.AsString(),
    };

    // Given parameters as written, then the ones left at their defaults, so the line says what the strategy will use.
    private static string Strategy(StrategySpec spec, StrategyRegistry strategies)
    {
        var descriptor = strategies.Find(spec.Name);
        string origin = strategies.OriginOf(spec.Name) is { } o && o != StrategyRegistry.BuiltIn ? $" (from {o})" : "";
        var parts = new List<string>();
        foreach (var (key, value) in spec.Parameters) parts.Add($"{key} {Show(value)}");
        foreach (var p in descriptor?.Parameters ?? [])
        {
            if (!spec.Parameters.ContainsKey(p.Name)) parts.Add($"{p.Name} {p.Default} (default)");
        }
        return $"{descriptor?.Name ?? spec.Name}{origin}{(parts.Count == 0 ? "" : ": " + string.Join(", ", parts))}";
    }

    private static string Train(TrainSpec t)
    {
        var parts = new List<string>();
        if (t.LocalSteps is { } steps) parts.Add($"local_steps {Num(steps)}");
        if (t.LocalEpochs is { } epochs) parts.Add($"local_epochs {Num(epochs)}");
        parts.Add($"batch_size {Num(t.BatchSize)}");
        parts.Add(t.Optimizer);
        parts.Add($"learning_rate {Num(t.LearningRate)}");
        if (t.Momentum != 0) parts.Add($"momentum {Num(t.Momentum)}");
        if (t.WeightDecay != 0) parts.Add($"weight_decay {Num(t.WeightDecay)}");
        var s = t.Schedule;
        switch (s.Type)
        {
            case "step": parts.Add($"step schedule (gamma {Num(s.Gamma)} every {Counted.Of(s.StepSize, "round")})"); break;
            case "exponential": parts.Add($"exponential schedule (gamma {Num(s.Gamma)})"); break;
            case "cosine": parts.Add($"cosine schedule (to {Num(s.MinLearningRate)})"); break;
        }
        return string.Join(", ", parts);
    }

    private static string Pairs(Config config) => string.Join(", ", config.Select(kv => $"{kv.Key}={Show(kv.Value)}"));

    // Text values in quotes, so "42" and 42 read differently, as they are typed differently.
    private static string Show(Scalar v) => v.Kind == ScalarKind.String ? $"'{v}'" : v.ToString();

    private static string Num(double x) => x.ToString("0.######", CultureInfo.InvariantCulture);

    private static string Num(long x) => x.ToString(CultureInfo.InvariantCulture);

    /// <summary>A duration as a plan would write it: "5m", "1m30s", "250ms".</summary>
    internal static string Duration(TimeSpan d)
    {
        if (d <= TimeSpan.Zero) return "0s";
        var sb = new StringBuilder();
        if ((long)d.TotalHours > 0) sb.Append(CultureInfo.InvariantCulture, $"{(long)d.TotalHours}h");
        if (d.Minutes > 0) sb.Append(CultureInfo.InvariantCulture, $"{d.Minutes}m");
        if (d.Seconds > 0) sb.Append(CultureInfo.InvariantCulture, $"{d.Seconds}s");
        double ms = d.TotalMilliseconds % 1000;
        if (ms > 0) sb.Append(Num(ms)).Append("ms");
        return sb.ToString();
    }
}
