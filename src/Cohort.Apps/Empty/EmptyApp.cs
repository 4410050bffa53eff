using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps.Empty;

/// <summary>
/// A client app that trains nothing: fit returns the parameters it was sent. It measures the
/// system's own overhead (benchmarks) and rehearses failures (node settings <c>delay_ms</c> slow every
/// fit down, <c>values</c> sets the model size).
/// </summary>
internal sealed class EmptyApp(int values, TimeSpan delay) : IClientApp
{
    /// <inheritdoc />
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
        Task.FromResult(new ParameterSet([Tensor.Zeros("weights", DType.Float32, [values])]));

    /// <inheritdoc />
    public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        if (delay > TimeSpan.Zero) await Task.Delay(delay, ct);
        return new FitResult(parameters, 1, Metrics.Empty);
    }

    /// <inheritdoc />
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
        Task.FromResult(new EvaluateResult(0.0, 1, Metrics.Empty));
}

/// <summary>Creates <see cref="EmptyApp"/> as the built-in app "empty".</summary>
public sealed class EmptyAppFactory : ISimulationAppFactory
{
    /// <inheritdoc />
    public string Name => "empty";

    /// <inheritdoc />
    public IClientApp Create(ClientAppContext context)
    {
        long values = ReadInt(context, "values", 1000);
        long delayMs = ReadInt(context, "delay_ms", 0);
        if (values < 1 || values > int.MaxValue) throw new ArgumentException($"empty app: 'values' must be between 1 and {int.MaxValue}, got {values}");
        if (delayMs < 0) throw new ArgumentException($"empty app: 'delay_ms' must be >= 0, got {delayMs}");
        return new EmptyApp((int)values, TimeSpan.FromMilliseconds(delayMs));
    }

    /// <inheritdoc />
    public ISimulationDataset LoadDataset(SimulationDataContext context) => EmptySimulationDataset.Load(context);

    private static long ReadInt(ClientAppContext context, string key, long fallback)
    {
        // Node settings arrive from the command line as strings; plan settings are typed.
        if (context.NodeSettings.TryGetValue(key, out var v) || context.AppSettings.TryGetValue(key, out v))
        {
            if (v.Kind == ScalarKind.String && long.TryParse(v.AsString(), System.Globalization.CultureInfo.InvariantCulture, out long parsed)) return parsed;
            if (v.IsNumber) return v.AsInt();
            throw new ArgumentException($"empty app: '{key}' must be an integer, got '{v}'");
        }
        return fallback;
    }
}
