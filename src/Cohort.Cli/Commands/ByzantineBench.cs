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
/// <c>cohort bench byzantine</c>: each robust aggregation rule's test accuracy under attacks designed
/// against robust aggregators (ALIE, inner-product manipulation, min-max, min-sum), under a large-norm
/// attack, and on clean data, with honest clients holding IID or Dirichlet non-IID (label-skewed) data.
/// Runs on <see cref="InProcessFederation"/>: the attackers are client apps that wait for the round's
/// honest updates and return the crafted one.
/// </summary>
internal static class ByzantineBench
{
    /// <summary>Clients per round (all take part).</summary>
    public const int Clients = 20;

    /// <summary>Colluding attackers among them (20 %).</summary>
    public const int Attackers = 4;

    /// <summary>Features of the synthetic task.</summary>
    public const int Features = 20;

    /// <summary>Training rows per client.</summary>
    public const int RowsPerClient = 100;

    /// <summary>Dirichlet concentration of the non-IID label split (two classes: Beta(α, α)).</summary>
    public const double Alpha = 0.5;

    /// <summary>The rules in table order, with their parameters for 4 attackers among 20 clients.</summary>
    public static readonly (string Label, string Strategy, Config Parameters)[] Rules =
    [
        ("fedavg", "fedavg", Config.Empty),
        ("fedmedian", "fedmedian", Config.Empty),
        ("fedtrimmedavg", "fedtrimmedavg", P(("beta", Scalar.Of(0.2)))),
        ("krum", "krum", P(("byzantine", Scalar.Of((long)Attackers)))),
        ("multi-krum", "krum", P(("byzantine", Scalar.Of((long)Attackers)), ("keep", Scalar.Of((long)(Clients - Attackers))))),
        ("bulyan", "bulyan", P(("byzantine", Scalar.Of((long)Attackers)))),
    ];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var seeds = new Option<int>("--seeds") { Description = "Seeds per cell (data, initial batch orders)", DefaultValueFactory = _ => 3 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds per run", DefaultValueFactory = _ => 30 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("byzantine", $"Robust aggregation under attack: rule × attack × IID/non-IID test accuracy, {Clients} clients of which {Attackers} collude")
        {
            seeds, rounds, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int n = pr.GetValue(seeds), r = pr.GetValue(rounds);
            if (n < 1) throw new CliException($"--seeds: {n} is not a positive count");
            if (r < 1) throw new CliException($"--rounds: {r} is not a positive count");
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["clients"] = Clients,
                ["attackers"] = Attackers,
                ["features"] = Features,
                ["rows_per_client"] = RowsPerClient,
                ["dirichlet_alpha"] = Alpha,
                ["rounds"] = r,
                ["seeds"] = n,
                ["model"] = "logistic regression, 10 local SGD steps of batch 16 at 0.1 per round",
                ["run_loop"] = "InProcessFederation (Cohort.Simulation)",
            });
            var table = new List<string>();
            foreach (bool nonIid in new[] { false, true })
            {
                string split = nonIid ? "noniid" : "iid";
                table.Add($"# {split}: rule | {string.Join(" | ", ByzantineAttacks.Names)}");
                foreach (var (label, _, _) in Rules)
                {
                    var cells = new List<string>();
                    foreach (var attack in ByzantineAttacks.Names)
                    {
                        var values = new double[n];
                        for (int s = 0; s < n; s++) values[s] = await AccuracyAsync(label, attack, nonIid, s + 1, r, ct);
                        double median = values.Order().ElementAt(n / 2);
                        BenchFigures.Print(figures, $"byzantine.{split}.{label}.{attack}.median_accuracy", median, 4);
                        BenchFigures.PrintValues(figures, $"byzantine.{split}.{label}.{attack}.per_seed", values);
                        cells.Add($"{median:F3}");
                    }
                    table.Add($"# {split}: {label} | {string.Join(" | ", cells)}");
                }
            }
            foreach (var line in table) Console.WriteLine(line);
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    /// <summary>One cell: the final global model's accuracy on the central test set after <paramref name="rounds"/> rounds of <paramref name="rule"/> under <paramref name="attack"/>.</summary>
    public static async Task<double> AccuracyAsync(string rule, string attack, bool nonIid, int seed, int rounds = 30, CancellationToken ct = default)
    {
        var (_, strategyName, parameters) = Rules.Single(x => x.Label == rule);
        var settings = TabularSettings.FromConfig(new Config([
            KeyValuePair.Create("columns", Scalar.Of(string.Join(",", Enumerable.Range(0, Features).Select(i => $"x{i}").Append("y")))),
            KeyValuePair.Create("label", Scalar.Of("y")),
            KeyValuePair.Create("header", Scalar.Of(false)),
        ]));
        var random = new Random(seed);
        var truth = new double[Features];
        for (int j = 0; j < Features; j++) truth[j] = (random.NextDouble() * 2) - 1;
        var test = Synthesize(random, truth, 4000, null);
        var colluders = attack == "none" ? null : new Colluders(attack, Clients - Attackers);
        var apps = new Dictionary<string, IClientApp>(StringComparer.Ordinal);
        for (int c = 0; c < Clients; c++)
        {
            string name = $"client{c:D2}";
            // Beta(α, α) as the ratio of two Gamma(α) draws: the client's share of positive labels.
            double? positives = nonIid ? Gamma(random, Alpha) is var a && Gamma(random, Alpha) is var b ? a / (a + b) : 0 : null;
            var app = new TabularApp(settings, new TabularSplit(Synthesize(random, truth, RowsPerClient, positives), test, false), name);
            bool attacker = c < Attackers;
            apps[name] = colluders is null ? app : attacker ? new AttackerApp(app, colluders) : new HonestApp(app, colluders);
        }
        var plan = new Plan
        {
            Name = "bench-byzantine",
            App = new AppSpec(TabularAppFactory.AppName, Config.Empty),
            Strategy = new StrategySpec(strategyName, parameters),
            Rounds = rounds,
            Selection = new Selection(Clients, Clients, 0, 1.0, 0.0),
            Train = new TrainSpec { LocalSteps = 10, LocalEpochs = null, BatchSize = 16, Optimizer = "sgd", LearningRate = 0.1 },
            Seed = seed,
        };
        var strategy = StrategyRegistry.CreateDefault().Create(strategyName, parameters, StrategyServices.None);
        var global = await new InProcessFederation(apps, strategy).RunAsync(plan, ct: ct);
        var scorer = new TabularApp(settings, new TabularSplit(test, test, false), "test");
        return (await scorer.EvaluateAsync(global, plan.EvaluateConfig(rounds), ct)).Metrics["accuracy"].AsDouble();
    }

    private static Config P(params (string Key, Scalar Value)[] entries) => new(entries.Select(e => KeyValuePair.Create(e.Key, e.Value)));

    /// <summary>Standard normal features, label 1 with probability σ(3·truth·x / √d); with <paramref name="positiveShare"/>, rows are drawn until the labels have that share.</summary>
    private static TabularDataset Synthesize(Random random, double[] truth, int rows, double? positiveShare)
    {
        var x = new float[rows * Features];
        var y = new float[rows];
        int wantPositive = positiveShare is { } p ? (int)Math.Round(p * rows) : -1;
        int positive = 0, negative = 0, r = 0;
        var row = new double[Features];
        while (r < rows)
        {
            double logit = 0;
            for (int j = 0; j < Features; j++)
            {
                row[j] = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                logit += truth[j] * row[j];
            }
            float label = random.NextDouble() < 1 / (1 + Math.Exp(-3 * logit / Math.Sqrt(Features))) ? 1 : 0;
            if (wantPositive >= 0 && (label == 1 ? positive >= wantPositive : negative >= rows - wantPositive)) continue;
            if (label == 1) positive++;
            else negative++;
            for (int j = 0; j < Features; j++) x[(r * Features) + j] = (float)row[j];
            y[r++] = label;
        }
        return new TabularDataset(x, y, Enumerable.Range(0, Features).Select(i => $"x{i}").ToArray());
    }

    // Marsaglia and Tsang, with the α < 1 boost.
    private static double Gamma(Random random, double alpha)
    {
        if (alpha < 1) return Gamma(random, alpha + 1) * Math.Pow(random.NextDouble(), 1 / alpha);
        double d = alpha - (1.0 / 3), c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            double v = Math.Pow(1 + (c * z), 3);
            if (v <= 0) continue;
            if (Math.Log(random.NextDouble()) < (0.5 * z * z) + d - (d * v) + (d * Math.Log(v))) return d * v;
        }
    }

    private static float[] Flatten(ParameterSet set) => set.SelectMany(t => t.AsFloat32().ToArray()).ToArray();

    /// <summary>The attackers' shared view of a round: the honest updates as they arrive, and the crafted update once all are in.</summary>
    private sealed class Colluders(string attack, int honestCount)
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<long, SortedDictionary<string, float[]>> _updates = [];
        private readonly Dictionary<long, TaskCompletionSource<float[]>> _crafted = [];

        public void Report(long round, string node, float[] update)
        {
            TaskCompletionSource<float[]> done;
            float[][] all;
            lock (_gate)
            {
                if (!_updates.TryGetValue(round, out var map)) _updates[round] = map = new(StringComparer.Ordinal);
                map[node] = update;
                if (map.Count < honestCount) return;
                all = map.Values.ToArray();
                done = Crafted(round);
            }
            done.TrySetResult(ByzantineAttacks.Craft(attack, all, Clients, Attackers));
        }

        public Task<float[]> MaliciousAsync(long round)
        {
            lock (_gate) return Crafted(round).Task;
        }

        private TaskCompletionSource<float[]> Crafted(long round)
        {
            if (!_crafted.TryGetValue(round, out var tcs)) _crafted[round] = tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
            return tcs;
        }
    }

    /// <summary>An honest client that shows its update to the colluders (the full-knowledge threat model).</summary>
    private sealed class HonestApp(TabularApp inner, Colluders colluders) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => inner.GetParametersAsync(config, ct);

        public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            var result = await inner.FitAsync(parameters, config, ct);
            var y = Flatten(result.Parameters);
            var x = Flatten(parameters);
            System.Numerics.Tensors.TensorPrimitives.Subtract(y, x, y);
            colluders.Report(config.GetInt("round", 0), inner.NodeName, y);
            return result;
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) => inner.EvaluateAsync(parameters, config, ct);
    }

    /// <summary>An attacker: waits for the round's crafted update and returns x + Δ, claiming an honest client's example count.</summary>
    private sealed class AttackerApp(TabularApp inner, Colluders colluders) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => inner.GetParametersAsync(config, ct);

        public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            var delta = await colluders.MaliciousAsync(config.GetInt("round", 0)).WaitAsync(TimeSpan.FromMinutes(2), ct);
            var result = parameters.Clone();
            int offset = 0;
            foreach (var tensor in result)
            {
                var values = tensor.AsFloat32();
                for (int k = 0; k < values.Length; k++) values[k] += delta[offset + k];
                offset += values.Length;
            }
            return new FitResult(result, inner.Data.Train.Count, Metrics.Empty);
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) => inner.EvaluateAsync(parameters, config, ct);
    }
}
