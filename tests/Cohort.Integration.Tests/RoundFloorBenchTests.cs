using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary><c>cohort bench round-floor</c>: a coordinator and peer processes of the program exchanging a byte a round.</summary>
public sealed class RoundFloorBenchTests
{
    [Fact]
    public async Task Each_round_takes_at_least_the_coordinators_and_a_peers_CPU_time_and_the_figures_are_ordered()
    {
        var bench = await BenchRun.RunAsync(["round-floor", "--nodes", "2", "--rounds", "60", "--work-ms", "0,2", "--node-work-ms", "0.5"], TimeSpan.FromMinutes(2));

        foreach (var (level, floor) in new[] { ("0", 0.5), ("2", 2.5) })
        {
            string prefix = $"floor.work_{level}ms";
            double p10 = bench.Figure($"{prefix}.interval_ms.p10"), median = bench.Figure($"{prefix}.interval_ms.median"), p90 = bench.Figure($"{prefix}.interval_ms.p90");
            // A round is a peer's CPU time (spent in parallel by the peers) and then the coordinator's, one after the other:
            // spinning on the thread's CPU clock, neither can end sooner, however busy the machine is.
            Assert.True(p10 >= floor, $"{prefix}: p10 {p10} ms is below the CPU time a round spends ({floor} ms)");
            Assert.True(p10 <= median && median <= p90, $"{prefix}: p10 {p10}, median {median}, p90 {p90}");
            // The ratio is of the unrounded figures: within rounding of the printed ones.
            Assert.InRange(bench.Figure($"{prefix}.p90_over_p10"), p90 / p10 * 0.99, p90 / p10 * 1.01);
        }
        Assert.Equal(2, bench.Figures["nodes"]!.GetValue<int>());
        Assert.NotNull(bench.Figures["build_commit"]);
    }

    [Fact]
    public async Task A_CPU_time_that_is_not_a_number_is_refused_by_name()
    {
        var (code, output) = await CliProcess.RunAsync(["bench", "round-floor", "--work-ms", "1,fast"], TimeSpan.FromMinutes(1));

        Assert.NotEqual(0, code);
        Assert.Contains("--work-ms: 'fast' is not a CPU time in ms", output);

        // A time past any round's (or NaN, or one that would overflow the spin's nanoseconds) is refused the same way.
        foreach (string bad in new[] { "1e300", "NaN", "-1" })
        {
            var (badCode, badOutput) = await CliProcess.RunAsync(["bench", "round-floor", "--work-ms", bad], TimeSpan.FromMinutes(1));
            Assert.NotEqual(0, badCode);
            Assert.Contains($"--work-ms: '{bad}' is not a CPU time in ms", badOutput);
        }
    }
}
