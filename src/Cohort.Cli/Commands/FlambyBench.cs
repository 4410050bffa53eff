using System.CommandLine;
using System.Globalization;
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
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench flamby</c>: FLamby's Fed-Heart-Disease strategy table under FLamby's own protocol
/// (PyTorch's default initial model, FLamby's per-strategy learning rates and server settings, 15
/// rounds × 100 local updates of batch 4, pooled baseline of 50 Adam epochs on pooled statistics),
/// each row beside FLamby's published mean over its seeds. Optional: the same table with Cohort's
/// defaults (a zero start, the example plan's learning rate, each strategy's default parameters),
/// and a tuning mode that chooses settings on a validation split carved from each hospital's
/// training data. Runs on <see cref="Simulation.InProcessFederation"/>; test sets are scored once per run.
/// </summary>
internal static class FlambyBench
{
    /// <summary>FLamby's first benchmark seed (its results cover seeds 42–46).</summary>
    public const int FirstSeed = 42;

    /// <summary>How far a row's mean over seeds may lie from FLamby's published mean and still count as parity.</summary>
    public const double ParityTolerance = 0.02;

    private static readonly string[] Hospitals = ["cleveland", "hungarian", "switzerland", "va"];
    private static readonly string[] Protocols = ["flamby", "cohort", "both"];

    /// <summary>Runs the federated rows of one protocol and the pooled baseline; the figures go into <paramref name="figures"/> under the protocol's prefix.</summary>
    public static async Task RunProtocolAsync(FlambyProtocol protocol, HeartDiseaseData data, int seeds, string? only, Config overrides, JsonObject figures, CancellationToken ct)
    {
        Console.WriteLine($"# {protocol.Title}");
        foreach (var row in protocol.Rows)
        {
            if (only is not null && !string.Equals(only, row.Strategy, StringComparison.OrdinalIgnoreCase)) continue;
            var setting = overrides.Count > 0 ? row.With(overrides) : row;
            var accuracies = new double[seeds];
            for (int s = 0; s < seeds; s++)
                accuracies[s] = (await FlambyRun.FederatedAsync(data.Train, data.Test, data.Settings, setting, protocol.TorchInit, FirstSeed + s, ct)).Mean;
            Report(figures, $"{protocol.Prefix}.{row.Strategy}", accuracies, setting);
        }
        if (only is null || only == "pooled")
        {
            var accuracies = new double[seeds];
            for (int s = 0; s < seeds; s++)
                accuracies[s] = protocol.Prefix == "flamby" ? FlambyRun.PooledFlamby(data, FirstSeed + s, ct) : FlambyRun.PooledCohort(data, FirstSeed + s, ct);
            Report(figures, $"{protocol.Prefix}.pooled", accuracies, protocol.Pooled);
        }
    }

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var planPath = new Option<string>("--plan") { Description = "The heart-disease plan (its app settings are used; under --protocol cohort also its train section)", DefaultValueFactory = _ => "examples/heart-disease/plan.yaml" };
        var protocol = new Option<string>("--protocol") { Description = "flamby: FLamby's init, learning rates, server settings and pooled baseline (the parity claim); cohort: zero init and Cohort's defaults; both", DefaultValueFactory = _ => "flamby" };
        var seeds = new Option<int>("--seeds") { Description = $"Seeds per strategy ({FirstSeed}, {FirstSeed + 1}, …): each changes the initial model (flamby protocol) and the batch order", DefaultValueFactory = _ => 5 };
        var only = new Option<string?>("--strategy") { Description = "Run only this strategy (plan name, e.g. fedadam, or pooled)" };
        var setParams = new Option<string[]>("--param") { Description = "Override a setting: key=value, strategy parameter or learning_rate (with --strategy)", AllowMultipleArgumentsPerToken = true };
        var tune = new Option<bool>("--tune") { Description = "Choose learning rate, μ, η and τ per strategy on a validation split of each hospital's training data, then score the choice on the test sets once" };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("flamby", "FLamby Fed-Heart-Disease: FedAvg, FedProx, Scaffold, FedAdam, FedYogi, FedAdagrad and pooled training, mean test accuracy over the four hospitals beside FLamby's published means")
        {
            planPath, protocol, seeds, only, setParams, tune, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            string path = pr.GetValue(planPath)!;
            string chosen = pr.GetValue(protocol)!;
            if (!Protocols.Contains(chosen)) throw new CliException($"--protocol: '{chosen}' is not one of {string.Join(", ", Protocols)}");
            int n = pr.GetValue(seeds);
            if (n < 1) throw new CliException($"--seeds: {n} is not a positive count");
            var plan = PlanParser.ParseFile(path, StrategyRegistry.CreateDefault());
            string? selected = pr.GetValue(only);
            var overrides = new Config(ParseOverrides(pr.GetValue(setParams) ?? []));
            if (overrides.Count > 0 && selected is null) throw new CliException("--param needs --strategy: the overrides apply to one strategy");
            var data = HeartDiseaseData.Load(plan, Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "data"), Hospitals);
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["protocol"] = chosen,
                ["seeds"] = new JsonArray(Enumerable.Range(FirstSeed, n).Select(s => (JsonNode)s).ToArray()),
                ["rounds"] = FlambyProtocol.Rounds,
                ["local_updates"] = FlambyProtocol.LocalUpdates,
                ["batch_size"] = FlambyProtocol.BatchSize,
                ["run_loop"] = "InProcessFederation (Cohort.Simulation): strategy ConfigureFit, concurrent app fits, validated fold in task order",
            });
            if (chosen is "flamby" or "both") await RunProtocolAsync(FlambyProtocol.Flamby(), data, n, selected, overrides, figures, ct);
            if (chosen is "cohort" or "both") await RunProtocolAsync(FlambyProtocol.CohortDefaults(plan), data, n, selected, overrides, figures, ct);
            if (pr.GetValue(tune)) await FlambyTuning.RunAsync(data, n, selected, figures, ct);
            if (pr.GetValue(json) is { } file)
            {
                await BenchFigures.SaveAsync(figures, file, ct);
            }
            return 0;
        });
        return command;
    }

    /// <summary>Prints and records one row: mean, median, range, spread, per-seed values and, where FLamby published one, its mean and the difference.</summary>
    public static void Report(JsonObject figures, string key, double[] accuracies, FlambyRow row)
    {
        double mean = accuracies.Average();
        double std = Math.Sqrt(accuracies.Sum(a => (a - mean) * (a - mean)) / Math.Max(1, accuracies.Length - 1));
        var sorted = accuracies.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        Print(figures, $"{key}.mean_accuracy", mean);
        Print(figures, $"{key}.median", median);
        Print(figures, $"{key}.std", std);
        Print(figures, $"{key}.min", sorted[0]);
        Print(figures, $"{key}.max", sorted[^1]);
        BenchFigures.PrintValues(figures, $"{key}.per_seed", accuracies);
        Print(figures, $"{key}.flamby_published", row.Published);
        Print(figures, $"{key}.difference", mean - row.Published);
        // The parity claim's verdict (1: within the tolerance): an accuracy gate belongs here, beside the figures, not in a unit test.
        Print(figures, $"{key}.within_parity_tolerance", Math.Abs(mean - row.Published) <= ParityTolerance ? 1 : 0);
        BenchFigures.PrintValues(figures, $"{key}.flamby_published_per_seed", row.PublishedPerSeed);
        string settings = row.Describe();
        Console.WriteLine($"{key}.settings {settings}");
        figures[$"{key}.settings"] = settings;
    }

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

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value, 4);
}

/// <summary>The four hospitals' preprocessed splits, and the same splits before standardisation (for pooled statistics).</summary>
/// <param name="Settings">The tabular app settings of the plan.</param>
/// <param name="Train">Each hospital's training split, standardised with its own training statistics.</param>
/// <param name="Test">Each hospital's test split, standardised with its own training statistics.</param>
/// <param name="RawTrain">Each hospital's training split before standardisation.</param>
internal sealed record HeartDiseaseData(TabularSettings Settings, IReadOnlyDictionary<string, TabularDataset> Train, IReadOnlyDictionary<string, TabularDataset> Test, IReadOnlyDictionary<string, TabularDataset> RawTrain)
{
    /// <summary>Reads and preprocesses the hospitals' files in <paramref name="dataDir"/> with the plan's app settings.</summary>
    public static HeartDiseaseData Load(Plan plan, string dataDir, IReadOnlyList<string> hospitals)
    {
        var train = new Dictionary<string, TabularDataset>(StringComparer.Ordinal);
        var test = new Dictionary<string, TabularDataset>(StringComparer.Ordinal);
        var raw = new Dictionary<string, TabularDataset>(StringComparer.Ordinal);
        TabularSettings? settings = null;
        foreach (var h in hospitals)
        {
            var node = new Config([KeyValuePair.Create("data", Scalar.Of(Path.Combine(dataDir, $"processed.{h}.data")))]);
            var app = new TabularAppFactory().CreateTabular(new ClientAppContext("bench-flamby", h, plan.App.Settings, node));
            settings = app.Settings;
            train[h] = app.Data.Train;
            test[h] = app.Data.Test;
            var unscaled = new TabularAppFactory().CreateTabular(new ClientAppContext("bench-flamby", h, plan.App.Settings.With([KeyValuePair.Create("standardize", Scalar.Of(false))]), node));
            raw[h] = unscaled.Data.Train;
        }
        return new HeartDiseaseData(settings!, train, test, raw);
    }
}
