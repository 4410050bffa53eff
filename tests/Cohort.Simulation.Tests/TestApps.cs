using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Simulation.Tests;

/// <summary>
/// A simulated app whose results make float sums sensitive to order and whose fits finish in a
/// timing-dependent order (unseeded random delays); client names in <paramref name="throwing"/> throw.
/// </summary>
internal sealed class JitterAppFactory(int examples, params string[] throwing) : ISimulationAppFactory
{
    public const string AppName = "jitter";

    public string Name => AppName;

    public ISimulationDataset LoadDataset(SimulationDataContext context) => LabelledData.Balanced(2, examples / 2);

    public IClientApp Create(ClientAppContext context)
    {
        var partition = context.Partition ?? throw new InvalidOperationException("jitter runs only in a simulation");
        return new JitterApp(context.NodeName, partition, throwing.Contains(context.NodeName));
    }

    private sealed class JitterApp(string node, DataPartition partition, bool throws) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [257])]));

        public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            await Task.Delay(Random.Shared.Next(0, 4), ct);
            if (throws) throw new InvalidOperationException($"disk on fire at {node}");
            var w = parameters[0].AsFloat32().ToArray();
            for (int i = 0; i < w.Length; i++) w[i] += MathF.Sin(partition.Client * 7.31f + i) * (1 + partition.Client % 5) * 1e-3f + 1e-7f * i;
            return new FitResult(new ParameterSet([Tensor.FromFloat32("w", [w.Length], w)]), partition.Indices.Length, Metrics.Empty);
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(parameters[0].AsFloat32()[0] * parameters[0].AsFloat32()[0], partition.Indices.Length, Metrics.Empty));
    }
}

/// <summary>A simulated app that keeps state from fit to fit (how many fits its client ran before) and reports it as <c>fits_before</c>.</summary>
internal sealed class CountingAppFactory : ISimulationAppFactory
{
    public const string AppName = "counting";

    public string Name => AppName;

    public ISimulationDataset LoadDataset(SimulationDataContext context) => LabelledData.Balanced(2, 50);

    public IClientApp Create(ClientAppContext context) =>
        new CountingApp((context.Partition ?? throw new InvalidOperationException("counting runs only in a simulation")).Indices.Length);

    private sealed class CountingApp(int examples) : IClientApp, IStatefulClientApp
    {
        private int _fits;

        public object? SaveState() => _fits;

        public void RestoreState(object state) => _fits = (int)state;

        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [4])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new FitResult(parameters, examples, new Metrics([KeyValuePair.Create("fits_before", Scalar.Of((long)_fits++))])));

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0, examples, Metrics.Empty));
    }
}
