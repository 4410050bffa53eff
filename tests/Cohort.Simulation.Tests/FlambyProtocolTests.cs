using Cohort.Cli.Commands;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Simulation.Tests;

/// <summary>
/// The FLamby protocol's runs, on the code <c>cohort bench flamby</c> runs: reproducible for a seed, and the tuning
/// split honest. Parity with FLamby's published means is the benchmark's verdict
/// (<c>*.within_parity_tolerance</c> in bench/results), not a unit test's.
/// </summary>
public sealed class FlambyProtocolTests
{
    private static readonly Lazy<HeartDiseaseData> Data = new(LoadData);

    [Fact]
    public async Task A_run_is_reproducible_and_the_seed_changes_it()
    {
        var row = FlambyProtocol.Flamby().Rows.Single(r => r.Strategy == "fedavg");
        var data = Data.Value;

        var a = await FlambyRun.FederatedAsync(data.Train, data.Test, data.Settings, row, true, 42, CancellationToken.None);
        var b = await FlambyRun.FederatedAsync(data.Train, data.Test, data.Settings, row, true, 42, CancellationToken.None);
        var other = await FlambyRun.FederatedAsync(data.Train, data.Test, data.Settings, row, true, 46, CancellationToken.None);

        Assert.Equal(a.PerHospital, b.PerHospital);
        Assert.NotEqual(a.PerHospital, other.PerHospital);
    }

    [Fact]
    public void The_tuning_validation_split_is_carved_from_training_rows_only_stratified_and_disjoint()
    {
        var train = Data.Value.Train["cleveland"];

        var (rest, held) = FlambyTuning.Carve(train, FlambyTuning.ValidationFraction, FlambyTuning.CarveSeed);

        Assert.Equal(train.Count, rest.Count + held.Count);
        Assert.InRange(held.Count, (int)(train.Count * 0.18), (int)(train.Count * 0.22));
        double share = (double)held.PositiveCount / held.Count, overall = (double)train.PositiveCount / train.Count;
        Assert.InRange(share, overall - 0.03, overall + 0.03);
        var restRows = Enumerable.Range(0, rest.Count).Select(i => string.Join(',', rest.Row(i).ToArray())).ToHashSet();
        Assert.DoesNotContain(Enumerable.Range(0, held.Count).Select(i => string.Join(',', held.Row(i).ToArray())), restRows.Contains);
    }

    private static Plan Plan() => PlanParser.ParseFile(RepositoryPaths.Combine("examples", "heart-disease", "plan.yaml"), StrategyRegistry.CreateDefault());

    private static HeartDiseaseData LoadData() =>
        HeartDiseaseData.Load(Plan(), RepositoryPaths.Combine("examples", "heart-disease", "data"), ["cleveland", "hungarian", "switzerland", "va"]);
}
