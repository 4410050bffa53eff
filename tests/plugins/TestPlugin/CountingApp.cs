using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.TestPlugin;

/// <summary>
/// A client app whose arithmetic a test can follow: one weight w; fit adds the node's <c>step</c>
/// (node setting, default 1) to it; evaluate reports w as the loss.
/// </summary>
public sealed class CountingApp(float step) : IClientApp
{
    /// <inheritdoc />
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
        Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [1])]));

    /// <inheritdoc />
    public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        var trained = parameters.Clone();
        trained["w"].AsFloat32()[0] += step;
        return Task.FromResult(new FitResult(trained, 1, new Metrics(new Dictionary<string, Scalar> { ["step"] = (double)step })));
    }

    /// <inheritdoc />
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
        Task.FromResult(new EvaluateResult(parameters["w"].AsFloat32()[0], 1, Metrics.Empty));
}

/// <summary>Registers <see cref="CountingApp"/> as the app "counting".</summary>
public sealed class CountingAppFactory : IClientAppFactory
{
    /// <inheritdoc />
    public string Name => "counting";

    /// <inheritdoc />
    public IClientApp Create(ClientAppContext context)
    {
        float step = 1;
        if (context.NodeSettings.TryGetValue("step", out var v))
            step = float.Parse(v.ToString(), System.Globalization.CultureInfo.InvariantCulture);
        return new CountingApp(step);
    }
}
