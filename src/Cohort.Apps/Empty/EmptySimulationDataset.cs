using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps.Empty;

/// <summary>
/// The empty app's simulation data: only a number of unlabelled examples (data key <c>examples</c>,
/// default 100,000) to share out, so benchmarks measure orchestration alone.
/// </summary>
internal sealed class EmptySimulationDataset(int count) : ISimulationDataset
{
    /// <inheritdoc />
    public string Description => $"{count:N0} empty examples";

    /// <inheritdoc />
    public int Count => count;

    /// <inheritdoc />
    public int ClassCount => 0;

    /// <inheritdoc />
    public ReadOnlySpan<int> Labels => [];

    /// <inheritdoc />
    public DataGroups GroupsBy(string by) => throw new ArgumentException("the empty app's data has no groups");

    /// <inheritdoc />
    public Task<EvaluateResult?> EvaluateCentralAsync(ParameterSet global, Config config, CancellationToken ct) => Task.FromResult<EvaluateResult?>(null);

    /// <summary>Reads <c>examples</c> from the data section.</summary>
    public static EmptySimulationDataset Load(SimulationDataContext context)
    {
        long n = 100_000;
        foreach (var (key, v) in context.Data)
        {
            if (key != "examples") throw new AppConfigurationException($"simulation.data '{key}' is not known for the empty app (known: examples)");
            if (v.Kind != ScalarKind.Int || v.AsInt() < 1 || v.AsInt() > int.MaxValue)
                throw new AppConfigurationException($"simulation.data 'examples' is '{v}'; expected a positive integer");
            n = v.AsInt();
        }
        return new EmptySimulationDataset((int)n);
    }
}
