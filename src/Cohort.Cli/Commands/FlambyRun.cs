using Cohort.Apps;
using Cohort.Apps.Tabular;
using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Learning.Models;
using Cohort.Learning.Optimizers;
using Cohort.Learning.Training;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Simulation;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>One Fed-Heart-Disease run: a federation of tabular apps over the hospitals' splits, or the pooled baseline.</summary>
internal static class FlambyRun
{
    /// <summary>What a federated run scored on each hospital's evaluation split, and their unweighted mean (FLamby's metric).</summary>
    /// <param name="Mean">Mean accuracy over the hospitals.</param>
    /// <param name="PerHospital">Accuracy at each hospital.</param>
    public sealed record Score(double Mean, IReadOnlyDictionary<string, double> PerHospital);

    /// <summary>
    /// Runs <see cref="FlambyProtocol.Rounds"/> rounds of <paramref name="row"/>'s strategy over apps that
    /// train on <paramref name="train"/>, then scores the final global model once on <paramref name="evaluation"/>
    /// (the test splits, or validation splits when tuning). The seed sets the initial model (when
    /// <paramref name="torchInit"/>) and every node's batch order.
    /// </summary>
    public static async Task<Score> FederatedAsync(IReadOnlyDictionary<string, TabularDataset> train, IReadOnlyDictionary<string, TabularDataset> evaluation,
        TabularSettings settings, FlambyRow row, bool torchInit, int seed, CancellationToken ct)
    {
        var apps = train.Keys.Order(StringComparer.Ordinal).ToDictionary(h => h, h =>
        {
            var app = new TabularApp(settings, new TabularSplit(train[h], evaluation[h], true), h);
            return torchInit ? (IClientApp)new TorchInitApp(app) : app;
        });
        var plan = new Plan
        {
            Name = "bench-flamby",
            App = new AppSpec(TabularAppFactory.AppName, Config.Empty),
            Strategy = new StrategySpec(row.Strategy, row.Parameters),
            Rounds = FlambyProtocol.Rounds,
            Seed = seed,
            // The bench scores the final model itself, once; no per-round federated evaluation.
            Selection = new Selection(apps.Count, apps.Count, 0, 1.0, 0.0),
            Train = new TrainSpec { LocalSteps = FlambyProtocol.LocalUpdates, BatchSize = FlambyProtocol.BatchSize, Optimizer = "sgd", LearningRate = row.ClientLearningRate },
        };
        var strategy = StrategyRegistry.CreateDefault().Create(row.Strategy, row.Parameters, StrategyServices.None);
        var global = await new InProcessFederation(apps, strategy).RunAsync(plan, ct: ct);
        var model = settings.CreateModel(train.Values.First().FeatureCount);
        model.SetParameters(global);
        var perHospital = evaluation.ToDictionary(kv => kv.Key, kv => BinaryEvaluation.Of(model, kv.Value).Accuracy, StringComparer.Ordinal);
        return new Score(perHospital.Values.Average(), perHospital);
    }

    /// <summary>
    /// FLamby's pooled baseline: the union of the training splits standardised with its own (pooled)
    /// statistics, PyTorch's default initial model, Adam 0.001, batch 4, 50 epochs; scored, as FLamby
    /// does, on each hospital's test split standardised with that hospital's training statistics.
    /// </summary>
    public static double PooledFlamby(HeartDiseaseData data, int seed, CancellationToken ct)
    {
        var hospitals = data.RawTrain.Keys.Order(StringComparer.Ordinal).ToArray();
        var pooled = Standardize(TabularDataset.Concat(hospitals.Select(h => data.RawTrain[h]).ToArray()));
        var model = new LogisticRegression(pooled.FeatureCount);
        model.InitializeLikeTorch(seed);
        LocalTrainer.Train(model, new Adam(model.Weights.Length, 0.001), pooled, new TrainingOptions { Epochs = FlambyProtocol.PooledEpochs, BatchSize = FlambyProtocol.BatchSize, Seed = seed }, [], ct);
        return hospitals.Average(h => BinaryEvaluation.Of(model, data.Test[h]).Accuracy);
    }

    /// <summary>The pooled baseline with Cohort's defaults: each hospital's own standardisation, a zero start, Adam 0.001, batch 4, 50 epochs.</summary>
    public static double PooledCohort(HeartDiseaseData data, int seed, CancellationToken ct)
    {
        var hospitals = data.Train.Keys.Order(StringComparer.Ordinal).ToArray();
        var pooled = TabularDataset.Concat(hospitals.Select(h => data.Train[h]).ToArray());
        var model = new LogisticRegression(pooled.FeatureCount);
        LocalTrainer.Train(model, new Adam(model.Weights.Length, 0.001), pooled, new TrainingOptions { Epochs = FlambyProtocol.PooledEpochs, BatchSize = FlambyProtocol.BatchSize, Seed = seed }, [], ct);
        return hospitals.Average(h => BinaryEvaluation.Of(model, data.Test[h]).Accuracy);
    }

    // z-score with the column mean and sample standard deviation (ddof 1) plus FLamby's 1e-9.
    private static TabularDataset Standardize(TabularDataset raw)
    {
        int n = raw.Count, d = raw.FeatureCount;
        var mean = new double[d];
        var std = new double[d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) mean[j] += raw.Features[(i * d) + j];
        for (int j = 0; j < d; j++) mean[j] /= n;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) std[j] += Math.Pow(raw.Features[(i * d) + j] - mean[j], 2);
        for (int j = 0; j < d; j++) std[j] = n > 1 ? Math.Sqrt(std[j] / (n - 1)) : 0;
        var features = new float[n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) features[(i * d) + j] = (float)((raw.Features[(i * d) + j] - mean[j]) / (std[j] + TabularPreprocessor.StdEpsilon));
        return new TabularDataset(features, (float[])raw.Labels.Clone(), raw.FeatureNames);
    }

    /// <summary>A tabular app whose initial model is PyTorch's default nn.Linear draw, seeded by the task's <c>seed</c>.</summary>
    private sealed class TorchInitApp(TabularApp inner) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct)
        {
            var model = new LogisticRegression(inner.Data.Train.FeatureCount);
            model.InitializeLikeTorch(unchecked((int)config.GetInt("seed", 0)));
            return Task.FromResult(model.GetParameters());
        }

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) => inner.FitAsync(parameters, config, ct);

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) => inner.EvaluateAsync(parameters, config, ct);
    }
}
