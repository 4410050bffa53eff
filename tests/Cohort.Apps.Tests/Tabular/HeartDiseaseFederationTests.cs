using Xunit.Abstractions;

namespace Cohort.Apps.Tests.Tabular;

/// <summary>
/// The example heart-disease plan run in-process. Parity with FLamby's published results under FLamby's
/// protocol is checked by Cohort.Simulation.Tests/FlambyParityTests, on the benchmark's own code.
/// </summary>
public sealed class HeartDiseaseFederationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_example_plan_from_a_zero_start_reaches_072_mean_accuracy_whatever_the_batch_order()
    {
        // Any batch-order seed: the example settings should not depend on luck.
        foreach (long seed in new long[] { 1, 2, 3 })
        {
            var plan = HeartDiseasePlan.Load() with { Seed = seed };
            var outcome = await FederatedSimulation.RunAsync(plan, FederatedSimulation.CreateApps(plan));
            output.WriteLine($"seed {seed}: mean accuracy {outcome.MeanAccuracy:F4}");
            Assert.True(outcome.MeanAccuracy >= 0.72, $"seed {seed}: mean test accuracy {outcome.MeanAccuracy:F4}");
        }
    }

    [Fact]
    public async Task A_federated_run_is_reproducible()
    {
        var plan = HeartDiseasePlan.Load();

        var a = await FederatedSimulation.RunAsync(plan, FederatedSimulation.CreateApps(plan));
        var b = await FederatedSimulation.RunAsync(plan, FederatedSimulation.CreateApps(plan));

        Assert.Equal(a.Global["linear.weight"].Data, b.Global["linear.weight"].Data);
    }
}
