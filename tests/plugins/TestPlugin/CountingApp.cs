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

/// <summary>
/// Registers <see cref="CountingApp"/> as the app "counting", for nodes and for <c>cohort simulate --plugin</c>: a
/// simulation's data set is <c>simulation.data.examples</c> unlabelled examples, split among the virtual clients.
/// </summary>
public sealed class CountingAppFactory : ISimulationAppFactory
{
    /// <inheritdoc />
    public ISimulationDataset LoadDataset(SimulationDataContext context) =>
        new CountingData(context.Data.TryGetValue("examples", out var n) ? int.Parse(n.ToString(), System.Globalization.CultureInfo.InvariantCulture) : 100);

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

/// <summary>What a simulation of the counting app splits among its clients: examples with no labels and no central test set.</summary>
public sealed class CountingData(int examples) : ISimulationDataset
{
    /// <inheritdoc />
    public string Description => $"{examples} counting examples";

    /// <inheritdoc />
    public int Count => examples;

    /// <inheritdoc />
    public int ClassCount => 0;

    /// <inheritdoc />
    public ReadOnlySpan<int> Labels => [];

    /// <inheritdoc />
    public DataGroups GroupsBy(string by) => throw new InvalidOperationException($"the counting app's examples have no column '{by}' to group by");

    /// <inheritdoc />
    public Task<EvaluateResult?> EvaluateCentralAsync(ParameterSet global, Config config, CancellationToken ct) => Task.FromResult<EvaluateResult?>(null);
}
