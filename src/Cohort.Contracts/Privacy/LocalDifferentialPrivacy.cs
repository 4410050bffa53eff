using System.Numerics.Tensors;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Privacy;

/// <summary>
/// Node-side half of local differential privacy: when a fit task's config carries
/// <see cref="ClippingNormKey"/>, the node clips its update (trained model minus the model it was
/// sent) to that L2 norm and adds Gaussian noise σ·C from the cryptographic generator to every value
/// before anything leaves the site. Without the keys it passes tasks straight through; nodes and
/// simulations wrap every app in it.
/// </summary>
public sealed class LocalDifferentialPrivacy(IClientApp inner, long? seed = null) : IClientApp
{
    /// <summary>Config key: clipping norm C.</summary>
    public const string ClippingNormKey = "dp_clipping_norm";

    /// <summary>Config key: noise multiplier σ.</summary>
    public const string NoiseMultiplierKey = "dp_noise_multiplier";

    /// <summary>Config key: δ of the reported (ε, δ).</summary>
    public const string DeltaKey = "dp_delta";

    private readonly GaussianNoise _noise = new(seed);
    private int _releases;

    /// <summary>The app being wrapped.</summary>
    public IClientApp Inner => inner;

    /// <inheritdoc />
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => inner.GetParametersAsync(config, ct);

    /// <inheritdoc />
    public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        var result = await inner.FitAsync(parameters, config, ct);
        return Applies(config) ? Release(parameters, result, config, _noise, Interlocked.Increment(ref _releases)) : result;
    }

    /// <summary>True when a task's config asks for local differential privacy.</summary>
    public static bool Applies(Config config) => config.ContainsKey(ClippingNormKey);

    /// <summary>
    /// The fit result as it may leave the site: the update (trained model minus <paramref name="sent"/>) clipped
    /// to the config's norm, noise added, and the privacy spent after <paramref name="releases"/> releases reported.
    /// </summary>
    public static FitResult Release(ParameterSet sent, FitResult result, Config config, GaussianNoise noise, int releases) =>
        Release(sent, result, new Clients.LocalPrivacySettings(config[ClippingNormKey].AsDouble(), config.GetDouble(NoiseMultiplierKey, 0), config.GetDouble(DeltaKey, 1e-5)), noise, releases);

    /// <summary>As the config overload, with the settings of a task's typed <see cref="Clients.TaskSettings"/>.</summary>
    internal static FitResult Release(ParameterSet sent, FitResult result, Clients.LocalPrivacySettings settings, GaussianNoise noise, int releases)
    {
        double clip = settings.ClippingNorm;
        double sigma = settings.NoiseMultiplier;
        double delta = settings.Delta;

        // A fresh copy: the app may hand back buffers it still uses.
        var released = result.Parameters.Clone();
        double norm = ModelUpdate.Norm(released, sent);
        float scale = norm > clip ? (float)(clip / norm) : 1f;
        for (int i = 0; i < sent.Count; i++)
        {
            if (sent[i].DType != DType.Float32) continue;
            var model = released[i].AsFloat32();
            var before = sent[i].AsFloat32();
            // model' = sent + clip(model − sent) + N(0, (σC)²)
            TensorPrimitives.Subtract(model, before, model);
            TensorPrimitives.MultiplyAdd(model, scale, before, model);
            noise.AddTo(model, sigma * clip);
        }
        var metrics = result.Metrics.ToDictionary(kv => kv.Key, kv => kv.Value);
        metrics["dp_clipped"] = norm > clip ? 1.0 : 0.0;
        metrics["dp_noise_std"] = sigma * clip;
        metrics["dp_epsilon"] = PrivacyAccountant.Epsilon(releases, sigma, delta);
        return result with { Parameters = released, Metrics = new Metrics(metrics) };
    }

    /// <inheritdoc />
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) => inner.EvaluateAsync(parameters, config, ct);
}
