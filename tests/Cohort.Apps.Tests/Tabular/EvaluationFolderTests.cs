using Cohort.Apps.Tabular;
using Cohort.Plans;

namespace Cohort.Apps.Tests.Tabular;

/// <summary>A server's central evaluation reads test files from its evaluation folder and nothing else it can read.</summary>
public sealed class EvaluationFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cohort-evaluation-").FullName;
    private string Folder => Path.Combine(_root, "evaluation");

    public EvaluationFolderTests()
    {
        Directory.CreateDirectory(Path.Combine(Folder, "holdout"));
        File.WriteAllText(Path.Combine(Folder, "holdout", "test.csv"), "age,fraud\n34,0\n51,1\n");
        // What the server keeps beside it: its admin token, one line that a header echo would print.
        File.WriteAllText(Path.Combine(_root, "admin.token"), "s3cr3t-admin-token\n");
    }

    [Fact]
    public void A_file_in_the_folder_is_read_by_its_relative_name()
    {
        Assert.Equal(Path.Combine(Folder, "holdout", "test.csv"), new EvaluationFolder(Folder, confined: true).Resolve("holdout/test.csv"));
    }

    [Theory]
    [InlineData("../admin.token")]
    [InlineData("holdout/../../admin.token")]
    [InlineData("/proc/self/cmdline")]
    [InlineData("/dev/zero")]
    public void A_file_outside_the_folder_is_refused_without_being_read(string file)
    {
        var e = Assert.Throws<InvalidDataException>(() => new EvaluationFolder(Folder, confined: true).Resolve(file));

        Assert.Equal($"file '{file}' is outside the server's evaluation folder (name a file in it, relative to it; the server's --evaluation-data sets the folder)", e.Message);
    }

    [Fact]
    public void A_data_folder_inside_the_evaluation_folder_or_an_evaluation_folder_elsewhere_in_the_data_folder_is_refused()
    {
        string data = Path.Combine(_root, "data");

        Assert.Null(EvaluationFolder.Overlap(Path.Combine(data, "evaluation"), data));
        Assert.Null(EvaluationFolder.Overlap(Path.Combine(data, "evaluation", "2026"), data));
        Assert.Null(EvaluationFolder.Overlap(Path.Combine(_root, "tests"), data));
        Assert.StartsWith($"the evaluation folder {_root} holds the data folder {data}", EvaluationFolder.Overlap(_root, data));
        Assert.StartsWith($"the evaluation folder {data} holds", EvaluationFolder.Overlap(data + "/", data));
        Assert.StartsWith($"the evaluation folder {data}/tls lies in the data folder", EvaluationFolder.Overlap(Path.Combine(data, "tls"), data));
        Assert.Null(EvaluationFolder.Overlap(data + "-evaluation", data));
    }

    [Fact]
    public void A_link_inside_the_folder_is_refused_wherever_it_points()
    {
        File.CreateSymbolicLink(Path.Combine(Folder, "token.csv"), Path.Combine(_root, "admin.token"));
        Directory.CreateSymbolicLink(Path.Combine(Folder, "up"), _root);
        var folder = new EvaluationFolder(Folder, confined: true);

        Assert.Contains("'token.csv' is a link", Assert.Throws<InvalidDataException>(() => folder.Resolve("token.csv")).Message);
        Assert.Contains("'up' is a link", Assert.Throws<InvalidDataException>(() => folder.Resolve("up/admin.token")).Message);
    }

    [Fact]
    public void A_missing_file_a_folder_and_a_file_over_the_size_limit_are_refused()
    {
        var folder = new EvaluationFolder(Folder, confined: true);
        using (var big = File.Create(Path.Combine(Folder, "big.csv"))) big.SetLength(EvaluationFolder.MaxBytes + 1); // sparse: nothing written

        Assert.Equal("file 'none.csv' not found in the server's evaluation folder", Assert.Throws<FileNotFoundException>(() => folder.Resolve("none.csv")).Message);
        Assert.Equal("file 'holdout' is a folder", Assert.Throws<InvalidDataException>(() => folder.Resolve("holdout")).Message);
        Assert.Equal("file 'holdout/test.csv/' names a folder", Assert.Throws<InvalidDataException>(() => folder.Resolve("holdout/test.csv/")).Message);
        Assert.StartsWith("file 'big.csv' is 1,073,741,825 bytes; a test file may be at most", Assert.Throws<InvalidDataException>(() => folder.Resolve("big.csv")).Message);
    }

    [Fact]
    public void A_plan_naming_the_admin_token_fails_its_central_evaluation_without_its_content()
    {
        var plan = PlanEvaluating("../admin.token");
        var app = Assert.Single(BuiltInApps.ServerApps(Folder));

        var e = Assert.Throws<InvalidDataException>(() => app.CreateCentralEvaluator(plan));

        Assert.Contains("outside the server's evaluation folder", e.Message);
        Assert.DoesNotContain("s3cr3t", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_test_file_that_does_not_fit_the_plan_is_reported_without_its_values()
    {
        File.WriteAllText(Path.Combine(Folder, "wrong.csv"), "age,fraud\n34,0\nsecret-value,1\n");
        var plan = PlanEvaluating("wrong.csv");
        var app = Assert.Single(BuiltInApps.ServerApps(Folder));

        var e = Assert.Throws<InvalidDataException>(() => app.CreateCentralEvaluator(plan));

        Assert.StartsWith("wrong.csv: ", e.Message);
        // Nor its header, which could be any first line.
        File.WriteAllText(Path.Combine(Folder, "notes.csv"), "TOPSECRET-LINE-1,foo\n");
        var header = Assert.Throws<InvalidDataException>(() => app.CreateCentralEvaluator(PlanEvaluating("notes.csv")));
        Assert.Equal("notes.csv: no column 'fraud' among the file's 2 columns", header.Message);
        Assert.DoesNotContain("secret-value", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_root, e.Message, StringComparison.Ordinal);
    }

    private static Plan PlanEvaluating(string file) => PlanParser.Parse($$"""
        name: central
        app: { name: tabular, settings: { label: fraud } }
        strategy: { name: fedavg }
        central_evaluation: { file: "{{file}}" }
        """, "central.yaml", Cohort.Strategies.StrategyRegistry.CreateDefault());

    /// <inheritdoc />
    public void Dispose() => Directory.Delete(_root, recursive: true);
}
