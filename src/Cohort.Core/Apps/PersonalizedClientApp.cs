using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Apps;

/// <summary>
/// Node-side half of personalisation: when a task's config names local tensors (key
/// <see cref="LocalParametersKey"/>, comma-separated <c>*</c> patterns), the node trains and evaluates
/// with its own copies of them, keeps the trained copies, and strips them from the fit result, so they
/// never leave the site. Without the key it passes tasks straight through. Nodes wrap every app in it.
/// </summary>
public sealed class PersonalizedClientApp(IClientApp inner) : IClientApp
{
    /// <summary>The config key naming the local tensors.</summary>
    public const string LocalParametersKey = "local_parameters";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Tensor> _local = new(StringComparer.Ordinal);

    /// <summary>The app being wrapped.</summary>
    public IClientApp Inner => inner;

    /// <inheritdoc />
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => inner.GetParametersAsync(config, ct);

    /// <inheritdoc />
    public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        if (Patterns(config) is not { } patterns) return await inner.FitAsync(parameters, config, ct);
        var result = await inner.FitAsync(WithLocal(parameters, patterns), config, ct);
        var shared = new List<Tensor>(result.Parameters.Count);
        lock (_gate)
        {
            foreach (var t in result.Parameters)
            {
                if (patterns.IsLocal(t.Name)) _local[t.Name] = t.Clone();
                else shared.Add(t);
            }
        }
        return result with { Parameters = new ParameterSet(shared) };
    }

    /// <inheritdoc />
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
        inner.EvaluateAsync(Patterns(config) is { } patterns ? WithLocal(parameters, patterns) : parameters, config, ct);

    private ParameterSet WithLocal(ParameterSet parameters, Personalization patterns)
    {
        lock (_gate)
        {
            if (_local.Count == 0) return parameters;
            // The server's copy of a local tensor is only its initial value: the node's own trained copy replaces it.
            return new ParameterSet(parameters.Select(t => patterns.IsLocal(t.Name) && _local.TryGetValue(t.Name, out var mine) && mine.HasSameSpec(t) ? mine.Clone() : t));
        }
    }

    private static Personalization? Patterns(Config config) =>
        config.GetStringOrNull(LocalParametersKey) is { Length: > 0 } text
            ? new Personalization { Local = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) }
            : null;
}
