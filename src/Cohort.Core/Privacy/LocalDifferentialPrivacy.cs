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
        if (!config.TryGetValue(ClippingNormKey, out var clipValue)) return result;
        double clip = clipValue.AsDouble();
        double sigma = config.GetDouble(NoiseMultiplierKey, 0);
        double delta = config.GetDouble(DeltaKey, 1e-5);

        // A fresh copy: the app may hand back buffers it still uses.
        var released = result.Parameters.Clone();
        double norm = DifferentialPrivacy.UpdateNorm(released, parameters);
        float scale = norm > clip ? (float)(clip / norm) : 1f;
        for (int i = 0; i < parameters.Count; i++)
        {
            if (parameters[i].DType != DType.Float32) continue;
            var model = released[i].AsFloat32();
            var sent = parameters[i].AsFloat32();
            // model' = sent + clip(model − sent) + N(0, (σC)²)
            TensorPrimitives.Subtract(model, sent, model);
            TensorPrimitives.MultiplyAdd(model, scale, sent, model);
            _noise.AddTo(model, sigma * clip);
        }
        int releases = Interlocked.Increment(ref _releases);
        var metrics = result.Metrics.ToDictionary(kv => kv.Key, kv => kv.Value);
        metrics["dp_clipped"] = norm > clip ? 1.0 : 0.0;
        metrics["dp_noise_std"] = sigma * clip;
        metrics["dp_epsilon"] = PrivacyAccountant.Epsilon(releases, sigma, delta);
        return result with { Parameters = released, Metrics = new Metrics(metrics) };
    }

    /// <inheritdoc />
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) => inner.EvaluateAsync(parameters, config, ct);
}
