using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Apps.Tabular;
using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Learning.Models;
using Cohort.Learning.Optimizers;
using Cohort.Learning.Training;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Simulation;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench flamby</c>: the FLamby Fed-Heart-Disease strategy table reproduced in-process with
/// the heart-disease example plan's preprocessing and training settings: for each strategy and seed,
/// 15 rounds over the four hospitals, then the mean test accuracy over the hospitals.
/// </summary>
public static class FlambyBench
{
    /// <summary>FLamby's published means (Ogier du Terrail et al., 2022, Fed-Heart-Disease).</summary>
    private static readonly (string Strategy, string Label, double Flamby, (string Key, Scalar Value)[] Params)[] Table =
    [
        ("fedavg", "FedAvg", 0.685, []),
        ("fedprox", "FedProx", 0.685, [("proximal_mu", 0.1)]),
        ("scaffold", "Scaffold", 0.684, [("server_learning_rate", 1.0)]),
        ("fedadam", "FedAdam", 0.726, [("server_learning_rate", 0.01), ("tau", 1e-3)]),
        ("fedyogi", "FedYogi", 0.731, [("server_learning_rate", 0.01), ("tau", 1e-3)]),
        ("fedadagrad", "FedAdagrad", 0.731, [("server_learning_rate", 0.1), ("tau", 1e-2)]),
    ];

    private static readonly string[] Hospitals = ["cleveland", "hungarian", "switzerland", "va"];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var planPath = new Option<string>("--plan") { Description = "The heart-disease plan (its app settings and train section are used)", DefaultValueFactory = _ => "examples/heart-disease/plan.yaml" };
        var seeds = new Option<int>("--seeds") { Description = "Training seeds per strategy (batch order)", DefaultValueFactory = _ => 5 };
        var only = new Option<string?>("--strategy") { Description = "Run only this strategy (plan name, e.g. fedadam)" };
        var setParams = new Option<string[]>("--param") { Description = "Override a strategy parameter: key=value (with --strategy)", AllowMultipleArgumentsPerToken = true };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("flamby", "FLamby Fed-Heart-Disease: FedAvg, FedProx, Scaffold, FedAdam, FedYogi, FedAdagrad and pooled training, mean test accuracy over the four hospitals")
        {
            planPath, seeds, only, setParams, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            string path = pr.GetValue(planPath)!;
            var plan = PlanParser.ParseFile(path, StrategyRegistry.CreateDefault());
            string dataDir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "data");
            int n = pr.GetValue(seeds);
            var figures = new JsonObject { ["machine"] = Machine.Describe(), ["seeds"] = n, ["rounds"] = plan.Rounds };
            Console.WriteLine($"machine {Machine.Describe()}");
            string? selected = pr.GetValue(only);
            foreach (var (strategy, label, flamby, defaults) in Table)
            {
                if (selected is not null && !string.Equals(selected, strategy, StringComparison.OrdinalIgnoreCase)) continue;
                var parameters = new Config(defaults.Select(p => KeyValuePair.Create(p.Key, p.Value)))
                    .With(ParseOverrides(pr.GetValue(setParams) ?? []));
                var accuracies = new double[n];
                for (int s = 0; s < n; s++)
                {
                    var seeded = plan with { Seed = s + 1, Strategy = new StrategySpec(strategy, parameters) };
                    var apps = CreateApps(seeded, dataDir);
                    var instance = StrategyRegistry.CreateDefault().Create(strategy, parameters, StrategyServices.None);
                    var global = await new InProcessFederation(apps.ToDictionary(kv => kv.Key, kv => (IClientApp)kv.Value), instance).RunAsync(seeded with { Selection = seeded.Selection with { FractionEvaluate = 0, MinEvaluate = 0 } }, ct: ct);
                    double sum = 0;
                    foreach (var app in apps.Values)
                        sum += (await app.EvaluateAsync(global, seeded.EvaluateConfig(seeded.Rounds), ct)).Metrics["accuracy"].AsDouble();
                    accuracies[s] = sum / apps.Count;
                }
                Report(figures, strategy, accuracies, flamby, parameters);
            }
            if (selected is null || selected == "pooled")
            {
                var apps = CreateApps(plan, dataDir);
                var pooled = TabularDataset.Concat(apps.Values.Select(a => a.Data.Train).ToArray());
                var accuracies = new double[n];
                for (int s = 0; s < n; s++)
                {
                    // FLamby's pooled baseline: Adam, lr 0.001, batch 4, 10 epochs over the union of the training splits.
                    var model = new LogisticRegression(pooled.FeatureCount);
                    LocalTrainer.Train(model, new Adam(model.Weights.Length, 0.001), pooled, new TrainingOptions { Epochs = 10, BatchSize = 4, Seed = s + 1 }, [], ct);
                    accuracies[s] = apps.Values.Average(a => BinaryEvaluation.Of(model, a.Data.Test).Accuracy);
                }
                Report(figures, "pooled", accuracies, 0.735, Config.Empty);
            }
            if (pr.GetValue(json) is { } file)
            {
                await BenchFigures.SaveAsync(figures, file, ct);
            }
            return 0;
        });
        return command;
    }

    private static Dictionary<string, TabularApp> CreateApps(Plan plan, string dataDir) =>
        Hospitals.ToDictionary(h => h, h => new TabularAppFactory().CreateTabular(new ClientAppContext(
            "bench-flamby", h, plan.App.Settings, new Config([KeyValuePair.Create("data", Scalar.Of(Path.Combine(dataDir, $"processed.{h}.data")))]))));

    private static IEnumerable<KeyValuePair<string, Scalar>> ParseOverrides(string[] items)
    {
        foreach (var item in items)
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new CliException($"--param '{item}': expected key=value");
            string value = item[(eq + 1)..];
            yield return KeyValuePair.Create(item[..eq], double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
                ? (value.Contains('.', StringComparison.Ordinal) || value.Contains('e', StringComparison.OrdinalIgnoreCase) ? Scalar.Of(d) : Scalar.Of((long)d))
                : Scalar.Of(value));
        }
    }

    private static void Report(JsonObject figures, string name, double[] accuracies, double flamby, Config parameters)
    {
        double mean = accuracies.Average();
        double std = Math.Sqrt(accuracies.Sum(a => (a - mean) * (a - mean)) / Math.Max(1, accuracies.Length - 1));
        Print(figures, $"flamby.{name}.mean_accuracy", mean);
        Print(figures, $"flamby.{name}.std", std);
        Print(figures, $"flamby.{name}.min", accuracies.Min());
        Print(figures, $"flamby.{name}.max", accuracies.Max());
        Print(figures, $"flamby.{name}.published", flamby);
        Print(figures, $"flamby.{name}.margin", mean - flamby);
        if (parameters.Count > 0) Console.WriteLine($"flamby.{name}.params {parameters}");
        figures[$"flamby.{name}.params"] = parameters.ToString();
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value, 4);
}
