using Cohort.Apps.Tabular;
using Cohort.Records;

namespace Cohort.Apps.Tests.Tabular;

/// <summary>The tabular app's preflight: every problem of a plan's settings on a node's file, without training.</summary>
public sealed class TabularValidationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cohort-validate-").FullName;

    private string Csv(string text)
    {
        string path = Path.Combine(_dir, $"data-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, text);
        return path;
    }

    private static readonly string Claims = string.Join('\n',
    [
        "age,region,amount,fraud",
        "34,north,120.5,0", "51,south,80,1", "29,north,33.2,0", "45,east,410,0", "62,south,15,1", "38,east,220,0", "41,north,98,0", "55,south,300,1",
    ]);

    // What the app writes to the site's own log (values, lines); never in the problems the server is sent.
    private readonly List<string> _siteLog = [];

    private IReadOnlyList<string> Validate(string? data, params (string Key, Scalar Value)[] settings)
    {
        var node = data is null ? Config.Empty : new Config([KeyValuePair.Create("data", Scalar.Of(data))]);
        var app = new Config(settings.Select(s => KeyValuePair.Create(s.Key, s.Value)));
        return new TabularAppFactory().Validate(new ClientAppContext("run", "site", app, node) { SiteLog = _siteLog.Add });
    }

    [Fact]
    public void Settings_that_fit_the_file_have_no_problems()
    {
        Assert.Empty(Validate(Csv(Claims), ("label", "fraud"), ("positive", "== 1"), ("categorical", "auto"), ("class_weight", "balanced")));
    }

    [Fact]
    public void A_misspelt_label_and_an_unknown_setting_are_both_reported_with_what_was_meant()
    {
        var problems = Validate(Csv(Claims), ("label", "frauds"), ("categorical", "auto"), ("class_wieght", "balanced"));

        Assert.Equal(
        [
            "app setting 'class_wieght' is not known (did you mean 'class_weight'?)",
            "no column 'frauds' (label) (did you mean 'fraud'?)",
        ], problems);
    }

    [Theory]
    [InlineData("label", "numm", "app setting 'label' is 'numm', which is not among 'columns'")]
    [InlineData("drop", "zip", "app setting 'drop' names 'zip', which is not among 'columns'")]
    [InlineData("categorical", "zip", "app setting 'categorical' names 'zip', which is not among 'columns'")]
    [InlineData("categorical.zip", "a,b", "app setting 'categorical.zip' names a column that is not among 'columns'")]
    public void A_column_missing_from_columns_is_the_fault_of_the_setting_that_names_it(string key, string value, string problem)
    {
        var settings = new List<(string, Scalar)> { ("header", Scalar.Of(false)), ("columns", Scalar.Of("age,amount,fraud")), (key, Scalar.Of(value)) };
        if (key != "label") settings.Add(("label", Scalar.Of("fraud")));

        Assert.Equal([problem], Validate(null, [.. settings]));
    }

    [Fact]
    public void Every_missing_column_undeclared_text_column_and_bad_value_is_listed()
    {
        var problems = Validate(Csv(Claims), ("label", "fraud"), ("positive", "> 0"), ("drop", "zip,amount"), ("model", "svm"), ("categorical.region", "north,south"));

        Assert.Equal(3, problems.Count);
        Assert.Equal("app setting 'model' is 'svm'; allowed: logistic, mlp", problems[0]);
        Assert.Equal("no column 'zip' (drop) among the file's 4 columns (their names stay in the site's log)", problems[1]);
        Assert.Equal("column 'region': values not among the declared categories north, south (which stay in the site's log)", problems[2]);
        // The value and its line are for the site to find; the server is told neither.
        Assert.DoesNotContain(problems, p => p.Contains("east", StringComparison.Ordinal));
        Assert.Equal("no column 'zip' (drop); columns: age, region, amount, fraud", _siteLog[0]);
        Assert.EndsWith(":5: column 'region': value 'east' not among the declared categories", _siteLog[1]);
    }

    [Fact]
    public void Text_in_a_column_not_declared_categorical_and_a_label_the_rule_cannot_read_are_reported()
    {
        string path = Csv("age,region,fraud\n34,north,no\n51,south,yes\n");

        var problems = Validate(path, ("label", "fraud"), ("positive", "> 0"));

        Assert.Equal(2, problems.Count);
        Assert.Equal($"{Path.GetFileName(path)}: a label is not a number, so rule '> 0' cannot apply (label 'fraud', positive '> 0')", problems[0]);
        Assert.Equal("column 'region' holds text but is not declared categorical (categorical: auto, or list it under categorical)", problems[1]);
        Assert.DoesNotContain(problems, p => p.Contains("'no'", StringComparison.Ordinal) || p.Contains("north", StringComparison.Ordinal) || p.Contains(_dir, StringComparison.Ordinal));
        Assert.Equal([$"{Path.GetFileName(path)}:2: label 'no' is not a number, so rule '> 0' cannot apply", $"{Path.GetFileName(path)}:2: column 'region' holds text ('north') but is not declared categorical"], _siteLog);
    }

    [Fact]
    public void Values_that_a_site_holds_never_reach_the_problems()
    {
        // A plan that declares categories wrongly on purpose learns that values miss them: not which, nor how many
        // (a count would tell a plan listing guesses which of them the site holds).
        string path = Csv("id,diagnosis,fraud\n1,C50.9,0\n2,E11.9,1\n3,C50.9,0\n4,I10,1\n");

        var problems = Validate(path, ("label", "fraud"), ("categorical.diagnosis", "x"), ("drop", "id"));

        Assert.Equal(["column 'diagnosis': values not among the declared categories x (which stay in the site's log)"], problems);
        Assert.Contains("value 'C50.9' and 2 other values", Assert.Single(_siteLog));
    }

    [Fact]
    public void What_only_loading_finds_is_reported_too()
    {
        string path = Csv("age,fraud\n34,1\n");

        var problem = Assert.Single(Validate(path, ("label", "fraud")));

        Assert.Contains("at least 2 are needed", problem);
    }

    [Fact]
    public void A_missing_file_is_named_and_without_data_only_the_settings_are_checked()
    {
        Assert.Equal(["the node's data file is not found (its path is in the node's log)"], Validate("/nowhere/x.csv", ("label", "fraud")));
        Assert.Equal(["data file '/nowhere/x.csv' not found"], _siteLog);
        Assert.Equal(["app setting 'label' is missing (required: the label column)"], Validate(null, ("model", "logistic")));
        Assert.Empty(Validate(null, ("label", "fraud")));
    }

    [Fact]
    public void A_folder_given_as_the_data_is_named_a_folder_not_a_missing_file()
    {
        Assert.Equal(["the node's data is a folder, not a file (its path is in the node's log)"], Validate(_dir, ("label", "fraud")));
        Assert.Equal([$"data '{_dir}' is a folder; the tabular app reads one CSV file"], _siteLog);
    }

    [Fact]
    public void Where_the_data_may_be_quoted_each_problem_is_told_once_with_its_line_and_value_and_nothing_goes_to_the_site_log()
    {
        string path = Csv(Claims.Replace("45,east,410,0", "45,east,410,0,7", StringComparison.Ordinal));
        var node = new Config([KeyValuePair.Create("data", Scalar.Of(path))]);
        var app = new Config([KeyValuePair.Create("label", Scalar.Of("fraud"))]);

        var problems = new TabularAppFactory().Validate(new ClientAppContext("run", "simulation", app, node) { SiteLog = _siteLog.Add, QuoteData = true });

        Assert.Equal([$"{Path.GetFileName(path)}:5: expected 4 fields, found 5"], problems);
        Assert.Empty(_siteLog);
    }

    [Fact]
    public void A_misspelt_required_setting_is_named_beside_the_missing_one()
    {
        // Two letters swapped is one slip.
        Assert.Equal(["app setting 'label' is missing (required: the label column); is 'lable' a misspelling of it?"], Validate(null, ("lable", "fraud")));
        Assert.Equal(["app setting 'standardise' is not known (did you mean 'standardize'?)"], Validate(null, ("label", "fraud"), ("standardise", "true")));
    }

    [Fact]
    public void The_schema_hash_depends_on_column_names_and_inferred_types_only()
    {
        var factory = new TabularAppFactory();
        var a = factory.DescribeDataset(Csv(Claims));
        var b = factory.DescribeDataset(Csv("age,region,amount,fraud\n70,west,1.5,0\n"));
        var c = factory.DescribeDataset(Csv("age,region,amount,fraud\n70,3,1.5,0\n"));

        Assert.Equal(["number", "text", "number", "number"], a.Columns.Select(x => x.Type));
        Assert.Equal(a.Hash, b.Hash);
        Assert.NotEqual(a.Hash, c.Hash);
        Assert.Matches("^[0-9a-f]{64}$", a.Hash);
    }

    [Fact]
    public void A_file_without_a_header_row_gets_positional_column_names()
    {
        var schema = new TabularAppFactory().DescribeDataset(HeartDiseasePlan.DataPath("cleveland"));

        Assert.Equal(14, schema.Columns.Count);
        Assert.Equal("column1", schema.Columns[0].Name);
        Assert.All(schema.Columns, c => Assert.Equal("number", c.Type));
    }

    /// <inheritdoc />
    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
