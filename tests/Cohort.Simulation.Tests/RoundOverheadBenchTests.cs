using Cohort.Cli.Commands;

namespace Cohort.Simulation.Tests;

/// <summary>The figures <c>cohort bench round-overhead</c> derives from the rounds the server recorded, and the provenance every bench records.</summary>
public sealed class RoundOverheadBenchTests
{
    [Fact]
    public void The_time_between_rounds_runs_from_each_finish_to_the_next_start_and_skips_a_round_with_no_next()
    {
        // Given out of order, with round 6 missing: round 5 has no next round, so it gives no gap.
        var rounds = new[]
        {
            (Round: 4, StartedAt: "2026-12-01T10:00:00.0100000Z", FinishedAt: "2026-12-01T10:00:00.0130000Z"),
            (Round: 3, StartedAt: "2026-12-01T10:00:00.0000000Z", FinishedAt: "2026-12-01T10:00:00.0040000Z"),
            (Round: 5, StartedAt: "2026-12-01T10:00:00.0155000Z", FinishedAt: "2026-12-01T10:00:00.0190000Z"),
            (Round: 7, StartedAt: "2026-12-01T10:00:00.0300000Z", FinishedAt: "2026-12-01T10:00:00.0320000Z"),
        };

        var between = RoundOverheadBench.BetweenRounds(rounds);

        Assert.Equal(2, between.Length);
        Assert.Equal(6.0, between[0], precision: 6); // round 3 finished at 4 ms, round 4 started at 10 ms
        Assert.Equal(2.5, between[1], precision: 6); // round 4 finished at 13 ms, round 5 started at 15.5 ms
    }

    [Fact]
    public void A_bench_records_the_commit_its_program_was_built_from()
    {
        // Built from a git checkout, the program's version carries the commit: a binary run outside the repository still has it.
        Assert.Matches("^[0-9a-f]{40}$", BenchFigures.BuildCommit());
        Assert.Equal(BenchFigures.BuildCommit(), BenchFigures.Begin()["build_commit"]!.GetValue<string>());
    }
}
