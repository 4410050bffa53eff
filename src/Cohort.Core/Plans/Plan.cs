using Cohort.Privacy;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Plans;

/// <summary>
/// A run's description, read from a YAML plan file by <see cref="PlanParser"/>: which app, which
/// strategy, how many rounds, how nodes are sampled, and the training settings sent to the nodes.
/// </summary>
public sealed record Plan
{
    /// <summary>Run name (the plan's <c>name</c>).</summary>
    public required string Name { get; init; }

    /// <summary>Experiment the run belongs to, for grouping; defaults to the name.</summary>
    public string? Experiment { get; init; }

    /// <summary>Free-form tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The client app nodes run, and its settings (identical on every node).</summary>
    public required AppSpec App { get; init; }

    /// <summary>
    /// The data set the run trains on (plan key <c>dataset</c>, at the top or under <c>app</c>): only nodes
    /// that declared a data set of this name take part, and each gives its app that data set's path.
    /// Null: every node running the app, with its default data.
    /// </summary>
    public string? Dataset { get; init; }

    /// <summary>How long the preflight at submit waits for each node's check of the app settings (plan key <c>preflight_timeout</c>).</summary>
    public TimeSpan PreflightTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The strategy and its parameters.</summary>
    public required StrategySpec Strategy { get; init; }

    /// <summary>Number of rounds.</summary>
    public int Rounds { get; init; } = 1;

    /// <summary>Node sampling limits.</summary>
    public Selection Selection { get; init; } = new();

    /// <summary>How long a round waits for results before counting the missing ones as failures.</summary>
    public TimeSpan RoundTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a round waits for <c>min_available</c> nodes to be online.</summary>
    public TimeSpan WaitForNodes { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Local training settings sent with every fit task.</summary>
    public TrainSpec Train { get; init; } = new();

    /// <summary>Seed for sampling and for the nodes' training.</summary>
    public long Seed { get; init; } = 42;

    /// <summary>What a round does when too few fit results come back (plan key <c>failure</c>).</summary>
    public FailurePolicy Failure { get; init; } = new();

    /// <summary>Parameters that stay on the nodes (plan key <c>personalization</c>); empty for none.</summary>
    public Personalization Personalization { get; init; } = new();

    /// <summary>FedBuff-style asynchronous training (plan key <c>asynchronous</c>), or null for synchronous rounds.</summary>
    public AsynchronousSpec? Asynchronous { get; init; }

    /// <summary>Central differential privacy (plan key <c>privacy</c>), or null for none.</summary>
    public Privacy.DifferentialPrivacyOptions? Privacy { get; init; }

    /// <summary>Extra values sent in every task's config (plan key <c>config</c>).</summary>
    public Config RoundConfig { get; init; } = Config.Empty;

    /// <summary>The <c>simulation</c> section, or null when the plan has none (<c>cohort simulate</c> needs it).</summary>
    public SimulationSpec? Simulation { get; init; }

    /// <summary>Evaluation of every round's global model on a test file the server holds (plan section <c>central_evaluation</c>), or null.</summary>
    public CentralEvaluationSpec? CentralEvaluation { get; init; }

    /// <summary>The YAML text the plan was read from (stored with the run).</summary>
    public string SourceText { get; init; } = "";

    /// <summary>
    /// The config of round <paramref name="round"/>'s fit tasks: training settings with the learning-rate
    /// schedule applied, the round number and seed, then the plan's <c>config</c> entries.
    /// </summary>
    public Config FitConfig(int round)
    {
        var c = new Dictionary<string, Scalar>(StringComparer.Ordinal)
        {
            ["round"] = round,
            ["rounds"] = Rounds,
            ["seed"] = Seed,
            ["batch_size"] = Train.BatchSize,
            ["optimizer"] = Train.Optimizer,
            ["learning_rate"] = Train.LearningRateAt(round),
            ["weight_decay"] = Train.WeightDecay,
            ["momentum"] = Train.Momentum,
        };
        if (Train.LocalEpochs is { } e) c["local_epochs"] = e;
        if (Train.LocalSteps is { } s) c["local_steps"] = s;
        foreach (var kv in RoundConfig) c[kv.Key] = kv.Value;
        return new Config(c);
    }

    /// <summary>
    /// What Cohort's client steps need of this plan on every task, apart from the app's config: the seed,
    /// local differential privacy (<c>privacy.mode: local</c>) and the tensors kept local (<c>personalization.local</c>).
    /// </summary>
    internal Clients.TaskSettings TaskSettings => new(
        Seed,
        Privacy is { Local: true } dp ? new Clients.LocalPrivacySettings(dp.ClippingNorm, dp.NoiseMultiplier, dp.Delta) : null)
    {
        LocalParameters = Personalization.Local,
    };

    /// <summary>The config of round <paramref name="round"/>'s evaluate tasks.</summary>
    public Config EvaluateConfig(int round)
    {
        var c = new Dictionary<string, Scalar>(StringComparer.Ordinal)
        {
            ["round"] = round,
            ["rounds"] = Rounds,
            ["seed"] = Seed,
            ["batch_size"] = Train.BatchSize,
        };
        foreach (var kv in RoundConfig) c[kv.Key] = kv.Value;
        return new Config(c);
    }
}

/// <summary>The plan's <c>app</c> section.</summary>
/// <param name="Name">App name nodes know ("tabular").</param>
/// <param name="Settings">App settings (label column, model, …).</param>
public sealed record AppSpec(string Name, Config Settings);

/// <summary>The plan's <c>strategy</c> section.</summary>
/// <param name="Name">Strategy name ("fedavg").</param>
/// <param name="Parameters">Strategy parameters.</param>
public sealed record StrategySpec(string Name, Config Parameters);

/// <summary>The plan's <c>train</c> section: what every node does locally in a fit task.</summary>
public sealed record TrainSpec
{
    /// <summary>Allowed optimiser names.</summary>
    public static readonly string[] Optimizers = ["sgd", "adam"];

    /// <summary>Passes over the local training data per round (when local steps are not given).</summary>
    public int? LocalEpochs { get; init; } = 1;

    /// <summary>Mini-batch steps per round; takes precedence over epochs when given.</summary>
    public int? LocalSteps { get; init; }

    /// <summary>Mini-batch size.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>"sgd" or "adam".</summary>
    public string Optimizer { get; init; } = "sgd";

    /// <summary>Learning rate of round 1.</summary>
    public double LearningRate { get; init; } = 0.01;

    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; init; }

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; }

    /// <summary>How the learning rate changes from round to round.</summary>
    public LearningRateSchedule Schedule { get; init; } = new();

    /// <summary>The learning rate of a 1-based round.</summary>
    public double LearningRateAt(int round) => Schedule.Apply(LearningRate, round);
}

/// <summary>
/// Per-round learning-rate schedule (plan key <c>train.lr_schedule</c>): <c>constant</c>;
/// <c>step</c> (multiply by gamma every step_size rounds); <c>exponential</c> (multiply by gamma each
/// round); <c>cosine</c> (from the base rate down to min_lr over the run's rounds).
/// </summary>
public sealed record LearningRateSchedule
{
    /// <summary>Allowed schedule types.</summary>
    public static readonly string[] Types = ["constant", "step", "exponential", "cosine"];

    /// <summary>One of <see cref="Types"/>.</summary>
    public string Type { get; init; } = "constant";

    /// <summary>Decay factor for step and exponential.</summary>
    public double Gamma { get; init; } = 1.0;

    /// <summary>Rounds between decays for step.</summary>
    public int StepSize { get; init; } = 1;

    /// <summary>Floor for cosine.</summary>
    public double MinLearningRate { get; init; }

    /// <summary>Rounds the cosine spans (the run's rounds; set by the parser).</summary>
    public int TotalRounds { get; init; } = 1;

    /// <summary>The rate for a 1-based round.</summary>
    public double Apply(double baseRate, int round)
    {
        int k = Math.Max(0, round - 1);
        return Type switch
        {
            "step" => baseRate * Math.Pow(Gamma, k / Math.Max(1, StepSize)),
            "exponential" => baseRate * Math.Pow(Gamma, k),
            "cosine" => MinLearningRate + (baseRate - MinLearningRate) * 0.5 * (1 + Math.Cos(Math.PI * k / Math.Max(1, TotalRounds - 1))),
            _ => baseRate,
        };
    }
}

/// <summary>
/// The plan's <c>failure</c> section: a round whose share of usable fit results (of the fit tasks sent)
/// is below <see cref="MinCompletionRate"/>, or whose count is below <c>selection.min_fit</c>, is rerun
/// up to <see cref="Retries"/> times; then the run stops with the reason.
/// </summary>
public sealed record FailurePolicy
{
    /// <summary>Least share of fit tasks that must return usable results, in [0, 1]; 0 leaves only min_fit.</summary>
    public double MinCompletionRate { get; init; }

    /// <summary>Reruns of a round that falls short before the run stops.</summary>
    public int Retries { get; init; }

    /// <summary>Most examples one result may claim; a result claiming more is a failure.</summary>
    public long MaxExamples { get; init; } = Apps.ResultLimits.DefaultMaxExamples;

    /// <summary>Largest relative change of a node's example count from its first in the run (per phase); beyond it the result is a failure.</summary>
    public double ExampleTolerance { get; init; } = Apps.ResultLimits.DefaultExampleTolerance;

    /// <summary>
    /// How long a node may be offline (or restarting) before its open tasks fail; null keeps them
    /// re-deliverable until the round timeout, zero fails them as soon as the node is lost.
    /// </summary>
    public TimeSpan? OfflineGrace { get; init; }

    /// <summary>The bounds results are checked against.</summary>
    public Apps.ResultLimits Limits => new(MaxExamples, ExampleTolerance);
}

/// <summary>
/// The plan's <c>asynchronous</c> section (FedBuff, Nguyen et al., 2022): nodes train continuously at
/// their own pace; the server folds each arriving update, weighted by a staleness function, into a
/// buffer and updates the global model every <see cref="BufferSize"/> arrivals. The plan's
/// <c>rounds</c> counts these updates.
/// </summary>
public sealed record AsynchronousSpec
{
    /// <summary>K: arrivals per global update.</summary>
    public int BufferSize { get; init; } = 3;

    /// <summary>Nodes training at once; 0 means every available node.</summary>
    public int Concurrency { get; init; }

    /// <summary>η_g: step applied to the buffered mean update.</summary>
    public double ServerLearningRate { get; init; } = 1.0;

    /// <summary>How stale updates are weighted down.</summary>
    public Staleness Staleness { get; init; } = new();
}

/// <summary>
/// Staleness weighting s(τ) of an update computed from a model τ versions old: <c>constant</c> (1),
/// <c>polynomial</c> ((1 + τ)^−a), <c>hinge</c> (1 for τ ≤ b, else 1 / (a·(τ − b) + 1)).
/// </summary>
public sealed record Staleness
{
    /// <summary>Allowed types.</summary>
    public static readonly string[] Types = ["constant", "polynomial", "hinge"];

    /// <summary>One of <see cref="Types"/>.</summary>
    public string Type { get; init; } = "polynomial";

    /// <summary>The exponent (polynomial) or slope (hinge).</summary>
    public double A { get; init; } = 0.5;

    /// <summary>The staleness tolerated at full weight (hinge).</summary>
    public double B { get; init; } = 4;

    /// <summary>s(τ).</summary>
    public double Weight(int staleness) => Type switch
    {
        "constant" => 1.0,
        "hinge" => staleness <= B ? 1.0 : 1.0 / (A * (staleness - B) + 1),
        _ => Math.Pow(1 + staleness, -A),
    };
}

/// <summary>A server-held test set the global model is evaluated on every round (Flower's evaluate_fn).</summary>
/// <param name="File">The file's path on the server: absolute, or relative to the server's data folder (in a simulation, to the plan's folder).</param>
public sealed record CentralEvaluationSpec(string File);
