using System.Text.Json.Nodes;
using Cohort.Learning.Data;
using Cohort.Records;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench flamby --tune</c>: chooses each strategy's client learning rate, μ, η and τ from a
/// fixed grid by the mean accuracy on a validation split carved from each hospital's training data
/// (training on the rest), under FLamby's protocol otherwise; then trains the choice on the whole
/// training splits and scores it once on the test sets.
/// </summary>
internal static class FlambyTuning
{
    /// <summary>Share of each hospital's training rows held out for validation (stratified by label).</summary>
    public const double ValidationFraction = 0.2;

    /// <summary>Seed of the validation carve.</summary>
    public const int CarveSeed = 7;

    private static readonly double[] ClientRates = [0.0003162, 0.001, 0.003162, 0.01, 0.03162];
    private static readonly double[] FedOptClientRates = [0.001, 0.003162, 0.01];
    private static readonly double[] ProximalMus = [0.001, 0.01, 0.1, 1.0];
    private static readonly double[] ServerRates = [0.001, 0.003162, 0.01, 0.03162, 0.1, 0.316228];
    private static readonly double[] Taus = [1e-8, 1e-4, 1e-2];

    /// <summary>The grid of settings tried for <paramref name="strategy"/>, each as overrides of FLamby's row.</summary>
    public static IReadOnlyList<Config> Grid(string strategy) => strategy switch
    {
        "fedavg" or "scaffold" => ClientRates.Select(lr => Overrides((FlambyRow.LearningRateKey, lr))).ToArray(),
        "fedprox" => ClientRates.SelectMany(lr => ProximalMus.Select(mu => Overrides((FlambyRow.LearningRateKey, lr), ("proximal_mu", mu)))).ToArray(),
        "fedadam" or "fedyogi" or "fedadagrad" => FedOptClientRates.SelectMany(lr => ServerRates.SelectMany(eta => Taus.Select(tau =>
            Overrides((FlambyRow.LearningRateKey, lr), ("server_learning_rate", eta), ("tau", tau))))).ToArray(),
        _ => [],
    };

    /// <summary>Tunes every strategy of FLamby's table (or only <paramref name="only"/>), printing the grid, the choice and its test score.</summary>
    public static async Task RunAsync(HeartDiseaseData data, int seeds, string? only, JsonObject figures, CancellationToken ct)
    {
        var fit = new Dictionary<string, TabularDataset>(StringComparer.Ordinal);
        var validation = new Dictionary<string, TabularDataset>(StringComparer.Ordinal);
        foreach (var (h, train) in data.Train)
            (fit[h], validation[h]) = Carve(train, ValidationFraction, CarveSeed);
        Console.WriteLine($"# tuning on a validation split ({ValidationFraction:P0} of each hospital's training rows, stratified, seed {CarveSeed}); test sets untouched until the choice is made");
        var protocol = FlambyProtocol.Flamby();
        foreach (var row in protocol.Rows)
        {
            if (only is not null && !string.Equals(only, row.Strategy, StringComparison.OrdinalIgnoreCase)) continue;
            var grid = new JsonArray();
            FlambyRow? best = null;
            double bestScore = double.NegativeInfinity;
            foreach (var overrides in Grid(row.Strategy))
            {
                var candidate = row.With(overrides);
                double sum = 0;
                for (int s = 0; s < seeds; s++)
                    sum += (await FlambyRun.FederatedAsync(fit, validation, data.Settings, candidate, true, FlambyBench.FirstSeed + s, ct)).Mean;
                double score = sum / seeds;
                Console.WriteLine($"tune.{row.Strategy} {candidate.Describe()} validation {score:F4}");
                grid.Add((JsonNode)new JsonObject { ["settings"] = candidate.Describe(), ["validation_accuracy"] = Math.Round(score, 4) });
                // Ties keep the earlier (smaller-rate) setting: the grid is ordered from cautious to aggressive.
                if (score > bestScore + 1e-12)
                {
                    bestScore = score;
                    best = candidate;
                }
            }
            figures[$"tuned.{row.Strategy}.grid"] = grid;
            Console.WriteLine($"tuned.{row.Strategy}.choice {best!.Describe()} (validation {bestScore:F4})");
            figures[$"tuned.{row.Strategy}.validation_accuracy"] = Math.Round(bestScore, 4);
            var accuracies = new double[seeds];
            for (int s = 0; s < seeds; s++)
                accuracies[s] = (await FlambyRun.FederatedAsync(data.Train, data.Test, data.Settings, best, true, FlambyBench.FirstSeed + s, ct)).Mean;
            FlambyBench.Report(figures, $"tuned.{row.Strategy}", accuracies, best);
        }
    }

    /// <summary>Splits <paramref name="data"/> into (rest, held out) with <paramref name="fraction"/> of each label's rows held out, seeded.</summary>
    public static (TabularDataset Remaining, TabularDataset HeldOut) Carve(TabularDataset data, double fraction, int seed)
    {
        var random = new Random(seed);
        var held = new List<int>();
        var rest = new List<int>();
        foreach (float label in data.Labels.Distinct().Order())
        {
            var rows = Enumerable.Range(0, data.Count).Where(i => data.Labels[i] == label).ToArray();
            random.Shuffle(rows);
            int k = (int)Math.Round(rows.Length * fraction);
            held.AddRange(rows.Take(k));
            rest.AddRange(rows.Skip(k));
        }
        held.Sort();
        rest.Sort();
        return (Subset(data, rest), Subset(data, held));
    }

    private static TabularDataset Subset(TabularDataset data, List<int> rows)
    {
        int d = data.FeatureCount;
        var features = new float[rows.Count * d];
        var labels = new float[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            data.Row(rows[r]).CopyTo(features.AsSpan(r * d, d));
            labels[r] = data.Labels[rows[r]];
        }
        return new TabularDataset(features, labels, data.FeatureNames);
    }

    private static Config Overrides(params (string Key, double Value)[] values) => new(values.Select(v => KeyValuePair.Create(v.Key, Scalar.Of(v.Value))));
}
