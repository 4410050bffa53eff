using Cohort.Learning.Optimizers;
using Cohort.Learning.Training;
using Cohort.Records;

namespace Cohort.Apps;

/// <summary>The local training settings of one fit task, read from the task's config (see Plan.FitConfig); shared by the built-in apps.</summary>
/// <param name="Training">Steps or epochs, batch size, batch-order seed and proximal μ.</param>
/// <param name="Optimizer">"sgd" or "adam".</param>
/// <param name="LearningRate">Step size.</param>
/// <param name="WeightDecay">L2 penalty.</param>
/// <param name="Momentum">SGD momentum.</param>
internal sealed record LocalFitConfig(TrainingOptions Training, string Optimizer, double LearningRate, double WeightDecay, double Momentum)
{
    /// <summary>Allowed optimisers.</summary>
    public static readonly string[] Optimizers = ["sgd", "adam"];

    /// <summary>
    /// Reads a fit config: <c>local_steps</c> takes precedence over <c>local_epochs</c>; the batch
    /// order is seeded by <c>seed</c>, <c>round</c> and the node's name, so every round and every site
    /// draws its own yet reproducible order. Unknown keys are ignored (a plan may add its own).
    /// </summary>
    public static LocalFitConfig FromConfig(Config config, string nodeName, int defaultBatchSize = 32, double defaultLearningRate = 0.01)
    {
        var r = new SettingsReader(config, "fit config");
        long steps = r.Int("local_steps", 0, 0, int.MaxValue);
        int epochs = (int)r.Int("local_epochs", 1, 1, int.MaxValue);
        var training = new TrainingOptions
        {
            Steps = steps > 0 ? (int)steps : null,
            Epochs = epochs,
            BatchSize = (int)r.Int("batch_size", defaultBatchSize, 1, int.MaxValue),
            Seed = BatchSeed(r.Int("seed", 0), r.Int("round", 0), nodeName),
            ProximalMu = r.Double("proximal_mu", 0, m => m >= 0, "a number ≥ 0"),
        };
        string optimizer = r.OneOf("optimizer", Optimizers, "sgd");
        double lr = r.Double("learning_rate", defaultLearningRate, v => v > 0, "a number > 0");
        double wd = r.Double("weight_decay", 0, v => v >= 0, "a number ≥ 0");
        double momentum = r.Double("momentum", 0, v => v >= 0 && v < 1, "a number in [0, 1)");
        return new LocalFitConfig(training, optimizer, lr, wd, momentum);
    }

    /// <summary>A fresh optimiser for <paramref name="parameterCount"/> parameters (state does not carry across rounds).</summary>
    public IOptimizer CreateOptimizer(int parameterCount) => Optimizer == "adam"
        ? new Adam(parameterCount, LearningRate, WeightDecay)
        : new Sgd(parameterCount, LearningRate, Momentum, WeightDecay);

    /// <summary>SplitMix64 over (seed, round, FNV-1a of the node name): stable across processes, unlike string.GetHashCode.</summary>
    public static int BatchSeed(long seed, long round, string nodeName)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in nodeName) h = (h ^ c) * 1099511628211UL;
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)round * 0xBF58476D1CE4E5B9UL ^ h);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
