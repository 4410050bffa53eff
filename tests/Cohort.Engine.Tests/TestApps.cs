using System.Numerics.Tensors;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Tensor = Cohort.Parameters.Tensor;

namespace Cohort.Engine.Tests;

/// <summary>Every fit moves each parameter by +1 (after an optional delay), so a test can count what reached the model.</summary>
internal sealed class StepApp(TimeSpan delay = default, long examples = 10) : IClientApp
{
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
        Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [4])]));

    public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        if (delay > TimeSpan.Zero) await Task.Delay(delay, ct);
        var next = parameters.Clone();
        TensorPrimitives.Add(next["w"].AsFloat32(), 1f, next["w"].AsFloat32());
        return new FitResult(next, examples, Metrics.Empty);
    }

    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
        Task.FromResult(new EvaluateResult(parameters["w"].AsFloat32()[0], 1, Metrics.Empty));
}

/// <summary>A client app that always throws.</summary>
internal sealed class BrokenApp : IClientApp
{
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => throw new IOException("disk on fire");

    public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) => throw new IOException("disk on fire");

    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) => throw new IOException("disk on fire");
}

/// <summary>A client app that waits until it is cancelled (a node that never answers).</summary>
internal sealed class HangingApp : IClientApp
{
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => Task.Delay(Timeout.Infinite, ct).ContinueWith(_ => new ParameterSet([]), ct);

    public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        await Task.Delay(Timeout.Infinite, ct);
        throw new InvalidOperationException("unreachable");
    }

    public async Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        await Task.Delay(Timeout.Infinite, ct);
        throw new InvalidOperationException("unreachable");
    }
}

/// <summary>
/// A simulated app with a shared part and a per-client head: a fit pulls the shared tensor towards 1
/// and the head towards the client's own target (its partition number), so only a head kept on the
/// client can serve it; evaluation reports the head's distance from that target. It holds no state of its
/// own, so a client created for each task and one kept for the run give the same numbers.
/// </summary>
internal sealed class HeadAppFactory : ISimulationAppFactory
{
    public const string AppName = "head";

    public string Name => AppName;

    public ISimulationDataset LoadDataset(SimulationDataContext context) => new CountingData(400);

    public IClientApp Create(ClientAppContext context) =>
        new HeadApp(context.Partition ?? throw new InvalidOperationException("head runs as a virtual client"));

    private sealed class HeadApp(DataPartition partition) : IClientApp
    {
        private float Target => partition.Client + 1;

        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("shared", DType.Float32, [3]), Tensor.Zeros("head.weight", DType.Float32, [2])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            var next = parameters.Clone();
            var shared = next["shared"].AsFloat32();
            for (int i = 0; i < shared.Length; i++) shared[i] += 0.5f * (1 - shared[i]) + 0.01f * partition.Client;
            var head = next["head.weight"].AsFloat32();
            for (int i = 0; i < head.Length; i++) head[i] += 0.5f * (Target - head[i]);
            return Task.FromResult(new FitResult(next, partition.Indices.Length, new Metrics([KeyValuePair.Create("head", Scalar.Of((double)head[0]))])));
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            double distance = Math.Abs(parameters["head.weight"].AsFloat32()[0] - Target);
            return Task.FromResult(new EvaluateResult(distance, partition.Indices.Length, new Metrics([KeyValuePair.Create("distance", Scalar.Of(distance))])));
        }
    }

    private sealed class CountingData(int count) : ISimulationDataset
    {
        public string Description => $"{count} examples";

        public int Count => count;

        public int ClassCount => 1;

        public ReadOnlySpan<int> Labels => new int[count];

        public DataGroups GroupsBy(string by) => throw new ArgumentException($"no column '{by}'");

        public Task<EvaluateResult?> EvaluateCentralAsync(ParameterSet global, Config config, CancellationToken ct) => Task.FromResult<EvaluateResult?>(null);
    }
}
