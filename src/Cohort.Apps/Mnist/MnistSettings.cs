using Cohort.Learning.Data.Mnist;
using Cohort.Learning.Nn;
using Cohort.Records;

namespace Cohort.Apps.Mnist;

/// <summary>
/// The mnist app's settings, read from the plan's <c>app.settings</c> (identical on every node).
/// Keys (default): model 2nn|cnn (2nn); init kaiming_uniform|kaiming_normal|glorot_uniform|torch
/// (kaiming_uniform); normalize (false: pixels in [0, 1]; true: also (v − 0.1307)/0.3081); threads
/// (all cores); eval_batch_size (500); and the data keys of <see cref="MnistDataSelection"/>, which
/// node settings override.
/// </summary>
/// <param name="Model">"2nn" or "cnn".</param>
/// <param name="Init">Initialisation of fresh models.</param>
/// <param name="Normalize">Standardise pixels with MNIST's mean and standard deviation.</param>
/// <param name="Threads">Worker threads per training task.</param>
/// <param name="EvalBatchSize">Examples per evaluation batch.</param>
/// <param name="Data">Which data to use, unless node settings say otherwise.</param>
internal sealed record MnistSettings(string Model, WeightInit Init, bool Normalize, int Threads, int EvalBatchSize, MnistDataSelection Data)
{
    /// <summary>Allowed initialisations, as plans spell them.</summary>
    public static readonly string[] Inits = ["kaiming_uniform", "kaiming_normal", "glorot_uniform", "torch"];

    /// <summary>2NN, Kaiming-uniform, pixels in [0, 1], all cores, whole sets.</summary>
    public static MnistSettings Default { get; } = new("2nn", WeightInit.KaimingUniform, false, Environment.ProcessorCount, 500, MnistDataSelection.All);

    /// <summary>How pixels become floats.</summary>
    public PixelScaling Scaling => Normalize ? PixelScaling.MnistStandardized : PixelScaling.UnitInterval;

    /// <summary>Reads and validates settings; throws <see cref="AppConfigurationException"/> naming the key. Unknown keys are refused.</summary>
    public static MnistSettings FromConfig(Config settings)
    {
        var r = new SettingsReader(settings, "app setting");
        string model = r.OneOf("model", FedAvgNetworks.Names, "2nn");
        var init = r.OneOf("init", Inits, "kaiming_uniform") switch
        {
            "kaiming_normal" => WeightInit.KaimingNormal,
            "glorot_uniform" => WeightInit.GlorotUniform,
            "torch" => WeightInit.Torch,
            _ => WeightInit.KaimingUniform,
        };
        bool normalize = r.Bool("normalize", false);
        int threads = (int)r.Int("threads", Environment.ProcessorCount, 1, 1024);
        int evalBatch = (int)r.Int("eval_batch_size", 500, 1, 100_000);
        var data = MnistDataSelection.Read(r, MnistDataSelection.All);
        r.RejectUnknownKeys();
        return new MnistSettings(model, init, normalize, threads, evalBatch, data);
    }

    /// <summary>A new network of <see cref="Model"/>'s architecture (parameters zero until initialised or loaded).</summary>
    public Sequential CreateNetwork() => FedAvgNetworks.Create(Model);
}
