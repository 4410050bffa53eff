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

    private readonly LocalTensors _local = new();

    /// <summary>The app being wrapped.</summary>
    public IClientApp Inner => inner;

    /// <inheritdoc />
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => inner.GetParametersAsync(config, ct);

    /// <inheritdoc />
    public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        if (LocalTensors.Patterns(config) is not { } patterns) return await inner.FitAsync(parameters, config, ct);
        var result = await inner.FitAsync(_local.WithLocal(parameters, patterns), config, ct);
        return result with { Parameters = _local.Keep(result.Parameters, patterns) };
    }

    /// <inheritdoc />
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
        inner.EvaluateAsync(LocalTensors.Patterns(config) is { } patterns ? _local.WithLocal(parameters, patterns) : parameters, config, ct);
}
