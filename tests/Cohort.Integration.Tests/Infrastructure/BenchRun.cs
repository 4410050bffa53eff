using System.Text.Json.Nodes;

namespace Cohort.Integration.Tests.Infrastructure;

/// <summary>A <c>cohort bench</c> command run to the end with <c>--json</c>: its output and the figures it wrote.</summary>
internal sealed class BenchRun(string output, JsonObject figures)
{
    /// <summary>Runs <c>cohort bench</c> with <paramref name="args"/>; fails the test when it does not exit 0.</summary>
    public static async Task<BenchRun> RunAsync(IEnumerable<string> args, TimeSpan timeout)
    {
        string file = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.json");
        try
        {
            var (code, output) = await CliProcess.RunAsync(["bench", .. args, "--json", file], timeout);
            Assert.True(code == 0, output);
            return new BenchRun(output, JsonNode.Parse(await File.ReadAllTextAsync(file))!.AsObject());
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>What the bench printed.</summary>
    public string Output => output;

    /// <summary>Every figure and setting the bench wrote.</summary>
    public JsonObject Figures => figures;

    /// <summary>A figure; fails the test, listing them all, when the bench wrote none of that name.</summary>
    public double Figure(string name) =>
        figures[name]?.GetValue<double>() ?? throw new Xunit.Sdk.XunitException($"no figure {name} in {figures.ToJsonString()}");
}
