using System.Numerics.Tensors;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Privacy;

/// <summary>Settings of central differential privacy with fixed clipping.</summary>
/// <param name="ClippingNorm">Largest L2 norm a node's update (its model minus the global model) may have; larger ones are scaled down to it.</param>
/// <param name="NoiseMultiplier">σ: the aggregate update gets Gaussian noise with standard deviation σ·C / (nodes sampled).</param>
/// <param name="Delta">δ for the reported (ε, δ).</param>
/// <param name="Seed">Seed for reproducible noise (tests only); null draws from the cryptographic generator.</param>
/// <param name="Local">True for local DP: each node clips and noises its own update before it leaves the site (noise σ·C per node), so the server never sees a clean update.</param>
public sealed record DifferentialPrivacyOptions(double ClippingNorm, double NoiseMultiplier, double Delta = 1e-5, long? Seed = null, bool Local = false)
{
    /// <summary>Allowed values of the plan key <c>privacy.mode</c>.</summary>
    public static readonly string[] Modes = ["central", "local"];
}

/// <summary>
/// Central differential privacy around any strategy (McMahan et al. 2018, "Learning Differentially
/// Private Recurrent Language Models"; Flower's server-side fixed clipping): every node's update is
/// clipped to norm C before the inner strategy aggregates, and Gaussian noise σ·C/m is added to the
/// aggregated update. Round metrics report the clipping rate and the (ε, δ) spent so far.
/// </summary>
public sealed class DifferentialPrivacy(IStrategy inner, DifferentialPrivacyOptions options) : IStrategy, IStatefulStrategy
{
    private readonly GaussianNoise _noise = new(options.Seed);
    private int _releases;

    /// <inheritdoc />
    public string Name => inner.Name + "+dp";

    /// <summary>
    /// The accountant's count of releases, the seeded noise generator's position and the inner
    /// strategy's state (tensors prefixed "inner/").
    /// </summary>
    public StrategyCheckpoint Save()
    {
        var innerState = (inner as IStatefulStrategy)?.Save();
        var values = new List<KeyValuePair<string, Scalar>>
        {
            KeyValuePair.Create("releases", Scalar.Of((long)Volatile.Read(ref _releases))),
            KeyValuePair.Create("noise_bytes", Scalar.Of(_noise.BytesDrawn)),
        };
        if (innerState is not null) values.AddRange(innerState.Values.Select(kv => KeyValuePair.Create("inner." + kv.Key, kv.Value)));
        // An inner state kept in a file stays there: written out from it, not read into memory first.
        return innerState?.Stored is { } stored
            ? new StrategyCheckpoint(Name, stored.Prefixed("inner/"), new Config(values))
            : new StrategyCheckpoint(Name, new ParameterSet(StrategyCheckpoint.Prefixed(innerState?.Tensors, "inner/")), new Config(values));
    }

    /// <inheritdoc />
    public void Restore(StrategyCheckpoint checkpoint)
    {
        checkpoint.RequireStrategy(Name);
        Volatile.Write(ref _releases, (int)checkpoint.Values.GetInt("releases", 0));
        _noise.SkipTo(checkpoint.Values.GetInt("noise_bytes", 0));
        if (inner is IStatefulStrategy stateful)
        {
            var values = checkpoint.Values.Where(kv => kv.Key.StartsWith("inner.", StringComparison.Ordinal))
                .Select(kv => KeyValuePair.Create(kv.Key["inner.".Length..], kv.Value));
            stateful.Restore(checkpoint.Stored?.Section("inner/") is { } stored
                ? new StrategyCheckpoint(inner.Name, stored, new Config(values))
                : new StrategyCheckpoint(inner.Name, checkpoint.Section("inner/") ?? new ParameterSet([]), new Config(values)));
        }
    }

    /// <inheritdoc />
    public ParameterSet? InitializeParameters() => inner.InitializeParameters();

    /// <inheritdoc />
    public IReadOnlyList<NodeInstruction> ConfigureFit(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes) =>
        inner.ConfigureFit(round, global, availableNodes);

    /// <inheritdoc />
    public IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) =>
        new ClippedAggregation(this, inner.BeginAggregateFit(round, global), global);

    /// <inheritdoc />
    public IReadOnlyList<NodeInstruction> ConfigureEvaluate(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes) =>
        inner.ConfigureEvaluate(round, global, availableNodes);

    /// <inheritdoc />
    public EvaluateAggregate AggregateEvaluate(RoundContext round, IReadOnlyList<NodeResult<EvaluateResult>> results, IReadOnlyList<NodeFailure> failures) =>
        inner.AggregateEvaluate(round, results, failures);

    /// <inheritdoc />
    public Task<EvaluateResult?> EvaluateCentralAsync(RoundContext round, ParameterSet global, CancellationToken ct) =>
        inner.EvaluateCentralAsync(round, global, ct);

    /// <summary>L2 norm of (model − global) over all float tensors.</summary>
    public static double UpdateNorm(ParameterSet model, ParameterSet global) => ModelUpdate.Norm(model, global);

    private sealed class ClippedAggregation(DifferentialPrivacy owner, IFitAggregation inner, ParameterSet global) : IFitAggregation
    {
        private int _results;
        private int _clipped;

        public void Add(string node, FitResult result)
        {
            double norm = UpdateNorm(result.Parameters, global);
            double c = owner.Options.ClippingNorm;
            var parameters = result.Parameters;
            if (norm > c)
            {
                // model' = global + (model − global)·C/‖Δ‖, on a copy: an app may hand back buffers it still uses.
                parameters = parameters.Clone();
                float scale = (float)(c / norm);
                for (int i = 0; i < global.Count; i++)
                {
                    if (global[i].DType != DType.Float32) continue;
                    var m = parameters[i].AsFloat32();
                    var g = global[i].AsFloat32();
                    TensorPrimitives.Subtract(m, g, m);
                    TensorPrimitives.MultiplyAdd(m, scale, g, m);
                }
                _clipped++;
            }
            _results++;
            inner.Add(node, result with { Parameters = parameters });
        }

        public FitAggregate Complete(IReadOnlyList<NodeFailure> failures)
        {
            var aggregate = inner.Complete(failures);
            double sigma = owner.Options.NoiseMultiplier * owner.Options.ClippingNorm / Math.Max(1, _results);
            foreach (var t in aggregate.Parameters)
            {
                if (t.DType == DType.Float32) owner._noise.AddTo(t.AsFloat32(), sigma);
            }
            int releases = Interlocked.Increment(ref owner._releases);
            var metrics = aggregate.Metrics.ToDictionary(kv => kv.Key, kv => kv.Value);
            metrics["dp_clipped_fraction"] = _results == 0 ? 0.0 : (double)_clipped / _results;
            metrics["dp_noise_std"] = sigma;
            metrics["dp_epsilon"] = PrivacyAccountant.Epsilon(releases, owner.Options.NoiseMultiplier, owner.Options.Delta);
            metrics["dp_delta"] = owner.Options.Delta;
            return aggregate with { Metrics = new Metrics(metrics) };
        }

        public void Dispose() => inner.Dispose();
    }

    private DifferentialPrivacyOptions Options => options;
}
