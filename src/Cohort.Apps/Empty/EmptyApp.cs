using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps.Empty;

/// <summary>
/// A client app that trains nothing: fit returns the parameters it was sent. It measures the
/// system's own overhead (benchmarks) and rehearses failures (node settings <c>delay_ms</c> slow every
/// fit down, <c>values</c> sets the model size, <c>fill</c> the value of every weight — zero by default;
/// memory measurements want a model whose pages are all written, as a trained one's are). A model of more than <see cref="TensorValues"/> values
/// is split into tensors "weights.0", "weights.1"…, since one tensor is one array of at most 2 GiB;
/// <c>tensors</c> sets how many (equal but for the last).
/// </summary>
internal sealed class EmptyApp(long values, TimeSpan delay, float fill = 0, int tensors = 0) : IClientApp
{
    /// <summary>Values of the largest tensor the app makes unless told how many tensors (1 GiB of float32).</summary>
    public const int TensorValues = 1 << 28;

    /// <summary>Values of the largest float32 tensor there can be (one array of at most <see cref="Array.MaxLength"/> bytes).</summary>
    public const int MaxTensorValues = 0x7FFFFFC7 / sizeof(float);

    /// <inheritdoc />
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct)
    {
        int count = tensors > 0 ? tensors : (int)((values + TensorValues - 1) / TensorValues);
        if (count == 1 && tensors == 0) return Task.FromResult(new ParameterSet([Weights("weights", (int)values)]));
        long each = (values + count - 1) / count;
        return Task.FromResult(new ParameterSet(Enumerable.Range(0, count).Select(i =>
            Weights($"weights.{i}", (int)Math.Max(0, Math.Min(each, values - i * each))))));
    }

    private Tensor Weights(string name, int count)
    {
        var tensor = Tensor.Zeros(name, DType.Float32, [count]);
        if (fill != 0) tensor.AsFloat32().Fill(fill);
        return tensor;
    }

    /// <inheritdoc />
    public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        if (delay > TimeSpan.Zero) await Task.Delay(delay, ct);
        if (Strategies.ScaffoldTensors.IsScaffoldTask(parameters))
        {
            // No local steps, so the node's control variate does not move: the model back, and a zero change of it.
            var (model, control) = Strategies.ScaffoldTensors.Split(parameters);
            var unchanged = new ParameterSet(control.Select(t => Tensor.Zeros(t.Name, t.DType, t.Shape)));
            return new FitResult(Strategies.ScaffoldTensors.Result(model, unchanged), 1, Metrics.Empty);
        }
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
        if (values < 1 || values > MaxValues) throw new ArgumentException($"empty app: 'values' must be between 1 and {MaxValues}, got {values}");
        if (delayMs < 0) throw new ArgumentException($"empty app: 'delay_ms' must be >= 0, got {delayMs}");
        double fill = ReadDouble(context, "fill", 0);
        if (!float.IsFinite((float)fill)) throw new ArgumentException($"empty app: 'fill' must be a finite float32, got {fill}");
        long tensors = ReadInt(context, "tensors", 0);
        if (tensors < 0 || tensors > values) throw new ArgumentException($"empty app: 'tensors' must be between 1 and 'values' ({values}), got {tensors}");
        if (tensors > 0 && (values + tensors - 1) / tensors > EmptyApp.MaxTensorValues)
            throw new ArgumentException($"empty app: {values} values in {tensors} tensors make tensors of more than {EmptyApp.MaxTensorValues} values (2 GiB); use at least {(values + EmptyApp.MaxTensorValues - 1) / EmptyApp.MaxTensorValues} tensors");
        return new EmptyApp(values, TimeSpan.FromMilliseconds(delayMs), (float)fill, (int)tensors);
    }

    // 16 GiB of float32: far past any machine this runs on, but a typo of a few digits is still caught.
    private const long MaxValues = 1L << 32;

    /// <inheritdoc />
    public ISimulationDataset LoadDataset(SimulationDataContext context) => EmptySimulationDataset.Load(context);

    private static double ReadDouble(ClientAppContext context, string key, double fallback)
    {
        if (context.NodeSettings.TryGetValue(key, out var v) || context.AppSettings.TryGetValue(key, out v))
        {
            if (v.Kind == ScalarKind.String && double.TryParse(v.AsString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double parsed)) return parsed;
            if (v.IsNumber) return v.AsDouble();
            throw new ArgumentException($"empty app: '{key}' must be a number, got '{v}'");
        }
        return fallback;
    }

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
