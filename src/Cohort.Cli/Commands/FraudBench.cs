using System.CommandLine;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Apps.Tabular;
using Cohort.Learning.Data;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Simulation;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench fraud</c>: the card-fraud example (examples/fraud) across three banks. Pooled
/// ROC-AUC, PR-AUC and F1 over all banks' test rows, as the server computes them from the banks'
/// score histograms and confusion counts, for FedAvg with global (statistics of all banks' training
/// rows, from the federated statistics step), per-site or no standardisation, with and without
/// balanced class weights, beside pooled training (all training rows in one place) and each bank
/// training alone; median and range over seeds of the batch order. Where the settings need the
/// statistics step (inferred categories, balanced weights, global standardisation), the banks'
/// statistics are combined exactly as the server combines them, and every bank preprocesses with them.
/// </summary>
internal static class FraudBench
{
    private static readonly string[] Banks = [.. FraudExampleData.Banks.Select(b => b.Name)];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var planPath = new Option<string>("--plan") { Description = "The fraud plan (its app settings and train section are used)", DefaultValueFactory = _ => "examples/fraud/plan.yaml" };
        var seeds = new Option<int>("--seeds") { Description = "Training seeds per variant (batch order)", DefaultValueFactory = _ => 5 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file (e.g. bench/results/fraud.json)" };
        var generate = new Option<string?>("--generate") { Description = "Only write the example's three CSV files into this folder and exit" };
        var command = new Command("fraud", "Card fraud across three banks: pooled ROC-AUC and PR-AUC of FedAvg with global vs per-site vs no standardisation, with and without class weights, beside pooled training and each bank alone")
        {
            planPath, seeds, json, generate,
        };
        command.SetAction(async (pr, ct) =>
        {
            if (pr.GetValue(generate) is { } dir)
            {
                foreach (var written in FraudExampleData.Write(dir)) Console.WriteLine($"wrote {written}");
                return 0;
            }
            string path = pr.GetValue(planPath)!;
            if (!File.Exists(path)) throw new CliException($"plan file '{path}' not found (run from the repository root or pass --plan)");
            var plan = PlanParser.ParseFile(path, StrategyRegistry.CreateDefault());
            string dataDir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "data");
            int n = pr.GetValue(seeds);
            var figures = new JsonObject
            {
                ["machine"] = Machine.Describe(),
                ["command"] = string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
                ["load_average_start"] = LoadAverage(),
                ["seeds"] = n,
                ["rounds"] = plan.Rounds,
            };
            Console.WriteLine($"machine {Machine.Describe()}");
            var reference = CreateApps(plan, dataDir, []);
            long positives = reference.Values.Sum(a => (long)a.Data.Test.PositiveCount), tested = reference.Values.Sum(a => (long)a.Data.Test.Count);
            BenchFigures.Print(figures, "fraud.test.rows", tested, 0);
            BenchFigures.Print(figures, "fraud.test.positive_rate", (double)positives / tested, 4);

            foreach (var standardize in new[] { "global", "site", "none" })
            {
                foreach (var weights in new[] { "none", "balanced" })
                {
                    (string, Scalar)[] overrides = [("standardize", standardize), ("class_weight", weights)];
                    string suffix = $"{standardize}_std.{(weights == "none" ? "unweighted" : "balanced")}";
                    await VariantAsync(figures, $"fedavg.{suffix}", plan, dataDir, overrides, n, apps => apps, ct);
                    await VariantAsync(figures, $"pooled.{suffix}", plan, dataDir, overrides, n, apps => new Dictionary<string, TabularApp>
                    {
                        ["pooled"] = new(apps.Values.First().Settings, new TabularSplit(
                            TabularDataset.Concat(apps.Values.Select(a => a.Data.Train).ToArray()), TabularDataset.Concat(apps.Values.Select(a => a.Data.Test).ToArray()), true), "pooled"),
                    }, ct);
                    if (standardize == "site")
                    {
                        foreach (var bank in Banks)
                            await VariantAsync(figures, $"alone.{bank}.{suffix}", plan, dataDir, overrides, n, apps => new Dictionary<string, TabularApp> { [bank] = apps[bank] }, ct);
                    }
                }
            }
            figures["load_average_end"] = LoadAverage();
            if (pr.GetValue(json) is { } file)
            {
                await BenchFigures.SaveAsync(figures, file, ct);
                Console.WriteLine($"figures written to {file}");
            }
            return 0;
        });
        return command;
    }

    // Trains with the given apps (all banks, one pooled app, or one bank) and scores the final model at
    // every bank, pooling the banks' evaluations as the server does.
    private static async Task VariantAsync(JsonObject figures, string name, Plan plan, string dataDir, (string, Scalar)[] overrides, int seeds,
        Func<Dictionary<string, TabularApp>, Dictionary<string, TabularApp>> trainers, CancellationToken ct)
    {
        var auc = new double[seeds];
        var prAuc = new double[seeds];
        var f1 = new double[seeds];
        for (int s = 0; s < seeds; s++)
        {
            var apps = CreateApps(plan, dataDir, overrides);
            var train = trainers(apps);
            var seeded = plan with
            {
                Seed = s + 1,
                Selection = new Selection(train.Count, train.Count, 0, 1.0, 0.0),
            };
            var strategy = StrategyRegistry.CreateDefault().Create(plan.Strategy.Name, plan.Strategy.Parameters, StrategyServices.None);
            ParameterSet global = await new InProcessFederation(train.ToDictionary(kv => kv.Key, kv => (IClientApp)kv.Value), strategy).RunAsync(seeded, ct: ct);
            var summary = new WeightedMetrics();
            foreach (var app in apps.Values)
            {
                var e = await app.EvaluateAsync(global, seeded.EvaluateConfig(seeded.Rounds), ct);
                summary.Add(e.Metrics, e.Examples);
            }
            var m = summary.ToMetrics();
            auc[s] = m.GetDouble("auc", double.NaN);
            prAuc[s] = m.GetDouble("pr_auc", double.NaN);
            f1[s] = m.GetDouble("f1", double.NaN);
        }
        foreach (var (metric, values) in new[] { ("auc", auc), ("pr_auc", prAuc), ("f1", f1) })
        {
            var sorted = values.Order().ToArray();
            BenchFigures.Print(figures, $"fraud.{name}.{metric}", sorted[sorted.Length / 2]);
            BenchFigures.Print(figures, $"fraud.{name}.{metric}_min", sorted[0]);
            BenchFigures.Print(figures, $"fraud.{name}.{metric}_max", sorted[^1]);
        }
        figures[$"fraud.{name}.seed_values"] = new JsonObject
        {
            ["auc"] = new JsonArray([.. auc.Select(v => (JsonNode?)Math.Round(v, 4))]),
            ["pr_auc"] = new JsonArray([.. prAuc.Select(v => (JsonNode?)Math.Round(v, 4))]),
        };
    }

    private static Dictionary<string, TabularApp> CreateApps(Plan plan, string dataDir, (string Key, Scalar Value)[] overrides)
    {
        var settings = plan.App.Settings.With(overrides.Select(o => KeyValuePair.Create(o.Key, o.Value)));
        var parsed = TabularSettings.FromConfig(settings);
        if (!parsed.NeedsStatistics)
        {
            return Banks.ToDictionary(b => b, b => new TabularAppFactory().CreateTabular(new ClientAppContext(
                "bench-fraud", b, settings, new Config([KeyValuePair.Create("data", Scalar.Of(Path.Combine(dataDir, b + ".csv")))]))));
        }
        // The statistics step as a run makes it: each bank describes its training rows, the server's side
        // of the app combines the descriptions, and every bank preprocesses its file with the result.
        var tables = Banks.ToDictionary(b => b, b => TabularReader.ReadFile(Path.Combine(dataDir, b + ".csv"), TabularPreprocessor.ReadOptionsFor(parsed.Read, parsed.Preprocess)));
        var statistics = Banks.Select(b => new NodeStatistics(b, 0, ((TabularStatisticsApp)TabularAppFactory.FromTable(parsed, tables[b], b))
            .ComputeStatisticsAsync(Config.Empty, CancellationToken.None).GetAwaiter().GetResult().Metrics)).ToArray();
        var withStatistics = plan with { App = plan.App with { Settings = settings } };
        var combined = settings.With(new TabularServerApp(new EvaluationFolder(dataDir, confined: false)).AggregateStatistics(withStatistics, statistics));
        var global = TabularSettings.FromConfig(combined);
        return Banks.ToDictionary(b => b, b => (TabularApp)TabularAppFactory.FromTable(global, tables[b], b));
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
