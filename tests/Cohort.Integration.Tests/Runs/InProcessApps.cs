using System.Numerics.Tensors;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Integration.Tests.Runs;

/// <summary>A client app whose every fit moves each parameter by +1 after a delay, so a test can count what reached the model.</summary>
internal sealed class StepApp(TimeSpan delay) : IClientApp
{
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
        Task.FromResult(new ParameterSet([Cohort.Parameters.Tensor.Zeros("w", DType.Float32, [4])]));

    public async Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        if (delay > TimeSpan.Zero) await Task.Delay(delay, ct);
        var next = parameters.Clone();
        TensorPrimitives.Add(next["w"].AsFloat32(), 1f, next["w"].AsFloat32());
        return new FitResult(next, 10, Metrics.Empty);
    }

    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
        Task.FromResult(new EvaluateResult(0, 1, Metrics.Empty));
}
