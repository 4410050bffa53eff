using Cohort.Cli.Demo;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>
/// Where <c>cohort demo</c> takes its files from and what it does to its folder: outside a clone it writes the copy of
/// the heart-disease demo built into the program, and it never empties a folder it did not make.
/// </summary>
public sealed class DemoFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cohort-demo-folder-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Outside_a_clone_the_heart_disease_demo_writes_its_built_in_plan_and_data_identical_to_the_repositorys()
    {
        var demo = DemoSpec.All.Single(d => d.Name == "heart-disease");
        string outDir = Path.Combine(_dir, "out");
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;

        string root = demo.Locate(outDir, [empty]);

        Assert.Equal(outDir, root);
        foreach (var file in new[] { demo.PlanFile }.Concat(demo.Sites.Select(s => s.DataFile)))
            Assert.Equal(File.ReadAllBytes(Path.Combine(Repo.Root, file)), File.ReadAllBytes(Path.Combine(root, file)));
        // Inside the clone the repository's own files are used, and nothing is written.
        Assert.Equal(Repo.Root, demo.Locate(Path.Combine(_dir, "unused"), [Repo.Root]));
        Assert.False(Directory.Exists(Path.Combine(_dir, "unused")));
    }

    [Fact]
    public void A_demo_whose_data_is_not_built_in_names_what_is_missing_outside_a_clone()
    {
        var demo = DemoSpec.All.Single(d => d.Name == "mnist-non-iid");
        var e = Assert.ThrowsAny<Exception>(() => demo.Locate(Path.Combine(_dir, "out"), [_dir]));
        Assert.Equal("cannot find examples/mnist-non-iid/plan.yaml, and the 'mnist-non-iid' demo's data is not built into this program: run it " +
            "from a clone of the Cohort repository, or from a folder holding its examples/ folder", e.Message);
    }

    [Theory]
    [InlineData("heart-disease", "--strategy", "fedyogii", "cohort: --strategy fedyogii: strategy.name: unknown strategy 'fedyogii'")]
    [InlineData("heart-disease", "--rounds", "0", "cohort: --rounds 0: rounds: ")]
    [InlineData("mnist-non-iid", "--strategy", "fedyogii", "cohort: --strategy fedyogii: strategy.name: unknown strategy 'fedyogii'")]
    public async Task A_bad_option_is_refused_naming_it_before_the_last_demos_folder_is_emptied_or_anything_starts(string demo, string option, string value, string expected)
    {
        // The folder as the last demo left it: its marker and its model.
        await File.WriteAllTextAsync(Path.Combine(_dir, ".cohort-demo"), "written by cohort demo\n");
        string model = Path.Combine(_dir, "model.cps");
        await File.WriteAllTextAsync(model, "the last demo's model");

        var (code, output) = await CliProcess.RunAsync(["demo", demo, option, value, "--out-dir", _dir], TimeSpan.FromSeconds(60));

        Assert.Equal(1, code);
        Assert.Contains(expected, output, StringComparison.Ordinal);
        Assert.DoesNotContain("starting a server", output, StringComparison.Ordinal);
        Assert.Equal("the last demo's model", await File.ReadAllTextAsync(model));
    }

    [Fact]
    public void The_hint_to_browse_a_run_shows_a_folder_under_the_current_one_relative_and_any_other_in_full()
    {
        string here = Path.Combine(_dir, "repo");
        Assert.Equal(Path.Combine(".cohort", "demo", "server"), DemoCommand.ShownPath(Path.Combine(here, ".cohort", "demo", "server"), here));
        string elsewhere = Path.Combine(_dir, "tmp", "demo-mn", "server");
        Assert.Equal(elsewhere, DemoCommand.ShownPath(elsewhere, here));
        Assert.Equal(elsewhere, DemoCommand.ShownPath(elsewhere, Path.Combine(_dir, "tmp", "demo")));
    }

    [Fact]
    public async Task The_demo_refuses_an_out_dir_holding_files_it_did_not_write_and_deletes_nothing()
    {
        string foreign = Path.Combine(_dir, "notes.txt");
        await File.WriteAllTextAsync(foreign, "mine");

        var (code, output) = await CliProcess.RunAsync(["demo", "heart-disease", "--rounds", "1", "--out-dir", _dir]);

        Assert.Equal(1, code);
        Assert.Contains($"--out-dir {_dir} holds files that no demo wrote; the demo empties its folder first, so give it a new or empty one", output);
        Assert.Equal("mine", await File.ReadAllTextAsync(foreign));
    }
}
