using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>A mistyped command line is told in a line or two naming what is wrong, not the runtime's type names and the whole help.</summary>
public sealed class CommandLineErrorsTests
{
    [Theory]
    [InlineData(new[] { "server", "--port", "abc" }, "cohort: Cannot parse argument 'abc' for option '--port' as a whole number.", "cohort server")]
    [InlineData(new[] { "run", "submit", "plan.yaml", "--bogus" }, "cohort: Unrecognized command or argument '--bogus'.", "cohort run submit")]
    [InlineData(new[] { "bench", "round-overhead", "--rounds", "x" }, "cohort: Cannot parse argument 'x' for option '--rounds' as a whole number.", "cohort bench round-overhead")]
    public async Task A_bad_option_or_value_is_one_line_and_the_help_to_read(string[] args, string line, string command)
    {
        var (code, output) = await CliProcess.RunAsync(args);
        Assert.Equal(1, code);
        Assert.Equal([line, $"cohort: see `{command} --help` for what it takes"], output.Trim().Split('\n').Select(l => l.TrimEnd()));
        Assert.DoesNotContain("System.", output);
    }

    [Fact]
    public async Task Cohort_alone_still_shows_its_commands()
    {
        var (_, output) = await CliProcess.RunAsync([]);
        Assert.Contains("Commands:", output);
    }
}
