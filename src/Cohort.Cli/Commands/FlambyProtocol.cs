using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Cli.Commands;

/// <summary>
/// A set of Fed-Heart-Disease rows and how they start: FLamby's own protocol (the parity claim), or
/// Cohort's defaults (a protocol change, reported beside it and never as an improvement on FLamby).
/// </summary>
/// <param name="Prefix">The figures' key prefix: "flamby" or "cohort".</param>
/// <param name="Title">What the rows are, printed above them.</param>
/// <param name="TorchInit">Whether the initial model is PyTorch's default nn.Linear draw (else zeros).</param>
/// <param name="Rows">The federated strategies.</param>
/// <param name="Pooled">The pooled baseline.</param>
internal sealed record FlambyProtocol(string Prefix, string Title, bool TorchInit, IReadOnlyList<FlambyRow> Rows, FlambyRow Pooled)
{
    /// <summary>FLamby's rounds for 100 local updates (get_nb_max_rounds(100) = 15).</summary>
    public const int Rounds = 15;

    /// <summary>Local SGD updates per round.</summary>
    public const int LocalUpdates = 100;

    /// <summary>FLamby's batch size, local and pooled.</summary>
    public const int BatchSize = 4;

    /// <summary>Epochs of FLamby's pooled baseline (NUM_EPOCHS_POOLED).</summary>
    public const int PooledEpochs = 50;

    private static readonly double[] FedAvgSeeds = [0.6915, 0.7198, 0.6427, 0.6943, 0.6765];
    private static readonly double[] ScaffoldSeeds = [0.6891, 0.7198, 0.6427, 0.6919, 0.6765];
    private static readonly double[] FedAdamSeeds = [0.7212, 0.7115, 0.7461, 0.7322, 0.7167];
    private static readonly double[] FedYogiSeeds = [0.7240, 0.7194, 0.7513, 0.7350, 0.7271];
    private static readonly double[] PooledSeeds = [0.7391, 0.7343, 0.7367, 0.7343, 0.7319];

    /// <summary>
    /// FLamby's flamby/config_heart_disease.json: client SGD 0.001 for FedAvg, FedProx (μ 0.01) and
    /// Scaffold (server rate 1); FedAdam client 0.01, server 0.01; FedYogi client 0.003162, server 0.01;
    /// FedAdagrad client 0.003162, server 0.316228; τ 1e-8, β₁ 0.9, β₂ 0.999 for the three; pooled Adam 0.001.
    /// </summary>
    public static FlambyProtocol Flamby() => new("flamby", "FLamby protocol: PyTorch default init U(±1/√13) seeded per run, FLamby's config, pooled baseline 50 epochs on pooled statistics", true,
    [
        new("fedavg", 0.001, Config.Empty, 0.6850, FedAvgSeeds),
        new("fedprox", 0.001, Params(("proximal_mu", 0.01)), 0.6850, FedAvgSeeds),
        new("scaffold", 0.001, Params(("server_learning_rate", 1.0)), 0.6840, ScaffoldSeeds),
        new("fedadam", 0.01, FedOpt(0.01), 0.7255, FedAdamSeeds),
        new("fedyogi", 0.003162, FedOpt(0.01), 0.7314, FedYogiSeeds),
        new("fedadagrad", 0.003162, FedOpt(0.316228), 0.7314, FedYogiSeeds),
    ], new("pooled", 0.001, Config.Empty, 0.7353, PooledSeeds));

    /// <summary>
    /// Cohort's defaults: a zero initial model, the plan's client learning rate and each strategy's
    /// default parameters (nothing chosen on test data); pooled: Adam 0.001 for 50 epochs on the
    /// hospitals' own standardisation.
    /// </summary>
    public static FlambyProtocol CohortDefaults(Plan plan)
    {
        double lr = plan.Train.LearningRate;
        return new("cohort", $"Cohort defaults (zero init, client learning rate {lr} from the plan, each strategy's default parameters): a protocol choice, not FLamby's", false,
        [
            new("fedavg", lr, Config.Empty, 0.6850, FedAvgSeeds),
            new("fedprox", lr, Config.Empty, 0.6850, FedAvgSeeds),
            new("scaffold", lr, Config.Empty, 0.6840, ScaffoldSeeds),
            new("fedadam", lr, Config.Empty, 0.7255, FedAdamSeeds),
            new("fedyogi", lr, Config.Empty, 0.7314, FedYogiSeeds),
            new("fedadagrad", lr, Config.Empty, 0.7314, FedYogiSeeds),
        ], new("pooled", 0.001, Config.Empty, 0.7353, PooledSeeds));
    }

    /// <summary>FLamby's FedOpt server settings with server rate <paramref name="eta"/>.</summary>
    public static Config FedOpt(double eta) => Params(("server_learning_rate", eta), ("tau", 1e-8), ("beta_1", 0.9), ("beta_2", 0.999));

    private static Config Params(params (string Key, double Value)[] values) => new(values.Select(v => KeyValuePair.Create(v.Key, Scalar.Of(v.Value))));
}
