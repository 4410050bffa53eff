using Cohort.Cli.Commands;
using Cohort.Plans;

namespace Cohort.Simulation.Tests;

/// <summary>
/// A problem in the user's own data files stops <c>cohort simulate</c> before round 1 as a plan error at
/// <c>simulation.data</c>, naming the file that holds it once, with its line and value.
/// </summary>
public sealed class SimulationDataErrorTests
{
    // The fraud example's plan and files, with line LINE (1-based) of bank_a.csv edited by EDIT.
    private static async Task<string> FraudCopyAsync(TempDir dir, int line, Func<string, string> edit)
    {
        string data = Directory.CreateDirectory(Path.Combine(dir.Path, "data")).FullName;
        foreach (var file in Directory.GetFiles(RepositoryPaths.Combine("examples", "fraud", "data"), "*.csv"))
            File.Copy(file, Path.Combine(data, Path.GetFileName(file)));
        string plan = Path.Combine(dir.Path, "plan.yaml");
        File.Copy(RepositoryPaths.Combine("examples", "fraud", "plan.yaml"), plan);
        string bankA = Path.Combine(data, "bank_a.csv");
        var lines = await File.ReadAllLinesAsync(bankA);
        lines[line - 1] = edit(lines[line - 1]);
        await File.WriteAllLinesAsync(bankA, lines);
        return plan;
    }

    [Fact]
    public async Task Text_in_a_column_other_files_hold_numbers_in_names_the_file_line_and_value_that_hold_it()
    {
        using var dir = new TempDir();
        // bank_a's amount on line 10 is 'NaN', which is text: its whole column is read as text, bank_b's and bank_c's as numbers.
        string plan = await FraudCopyAsync(dir, 10, l => string.Join(',', l.Split(',').Select((f, i) => i == 1 ? "NaN" : f)));

        var e = await Assert.ThrowsAsync<PlanException>(() => SimulateCommand.RunAsync(plan, Path.Combine(dir.Path, "state"), 1, null, TextWriter.Null, CancellationToken.None));

        Assert.EndsWith("simulation.data: bank_a.csv:10: column 'amount' holds text here but numbers in bank_b.csv (value 'NaN')", e.Message);
        Assert.DoesNotContain("Exception", e.Message);
    }

    [Fact]
    public async Task Simulate_preflight_tells_each_data_problem_once_naming_its_file_once_with_the_line()
    {
        using var dir = new TempDir();
        string plan = await FraudCopyAsync(dir, 50, l => l + ",99");

        var e = await Assert.ThrowsAsync<PlanException>(() => SimulateCommand.RunAsync(plan, Path.Combine(dir.Path, "state"), 1, null, TextWriter.Null, CancellationToken.None));

        Assert.Equal("preflight failed: bank_a.csv:50: expected 10 fields, found 11", e.Problem);
    }
}
