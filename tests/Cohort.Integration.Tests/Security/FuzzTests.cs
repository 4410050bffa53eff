using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests.Security;

/// <summary>A short, deterministic slice of the protocol fuzzer, as CI runs it.</summary>
public sealed class FuzzTests
{
    [Fact]
    public async Task Five_hundred_mutated_fleet_messages_crash_nothing_and_an_honest_run_still_finishes()
    {
        var (code, output) = await CliProcess.RunAsync(["bench", "fuzz", "--messages", "500", "--seed", "7", "--deadline-ms", "30000"], TimeSpan.FromMinutes(5));
        Assert.True(code == 0, output);
        Assert.Contains("fuzz.crashes 0", output);
        Assert.Contains("fuzz.hangs 0", output);
        Assert.Contains("honest_run.finished 1", output);
        // The slice exercised refusals, not only the happy path.
        Assert.Contains("fuzz.status.rejected", output);
        Assert.Contains("fuzz.status.InvalidArgument", output);
        Assert.Contains("fuzz.status.Unauthenticated", output);
    }
}
