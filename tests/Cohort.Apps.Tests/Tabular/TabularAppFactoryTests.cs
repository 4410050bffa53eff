using Cohort.Apps.Tabular;
using Cohort.Learning.Data;
using Cohort.Records;

namespace Cohort.Apps.Tests.Tabular;

public sealed class TabularAppFactoryTests
{
    private static ClientAppContext Context(Func<Dictionary<string, Scalar>, Dictionary<string, Scalar>>? edit = null, string? data = null)
    {
        var plan = HeartDiseasePlan.Load();
        var settings = plan.App.Settings.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        if (edit is not null) settings = edit(settings);
        var node = data is null ? Config.Empty : new Config([KeyValuePair.Create("data", Scalar.Of(data))]);
        return new ClientAppContext("run", "cleveland", new Config(settings), data is null && edit is null ? HeartDiseasePlan.Context(plan, "cleveland").NodeSettings : node);
    }

    private static string Cleveland => HeartDiseasePlan.DataPath("cleveland");

    private static AppConfigurationException Refused(Func<Dictionary<string, Scalar>, Dictionary<string, Scalar>> edit) =>
        Assert.Throws<AppConfigurationException>(() => new TabularAppFactory().Create(Context(edit, Cleveland)));

    [Fact]
    public void Plan_settings_create_an_app_over_the_nodes_own_file()
    {
        var app = new TabularAppFactory().CreateTabular(Context());

        Assert.Equal(199, app.Data.Train.Count);
        Assert.Equal(13, app.Data.Train.FeatureCount);
        Assert.Equal("logistic", app.Settings.Model);
    }

    [Fact]
    public void A_missing_label_setting_is_named()
    {
        var e = Refused(s => { s.Remove("label"); return s; });

        Assert.Equal("app setting 'label' is missing (required: the label column)", e.Message);
    }

    [Fact]
    public void An_unknown_model_lists_the_allowed_models()
    {
        var e = Refused(s => { s["model"] = "svm"; return s; });

        Assert.Equal("app setting 'model' is 'svm'; allowed: logistic, mlp", e.Message);
    }

    [Fact]
    public void An_unknown_missing_policy_lists_the_allowed_policies()
    {
        var e = Refused(s => { s["missing"] = "median"; return s; });

        Assert.Equal("app setting 'missing' is 'median'; allowed: drop, mean", e.Message);
    }

    [Fact]
    public void A_misspelt_setting_is_reported_with_the_known_settings()
    {
        var e = Refused(s => { s["stratfy"] = true; return s; });

        Assert.StartsWith("app setting 'stratfy' is not known (did you mean 'stratify'?); known: ", e.Message);
        Assert.Contains("stratify", e.Message);
        Assert.Contains("categorical.<name>", e.Message);
    }

    [Fact]
    public void A_train_fraction_outside_zero_and_one_is_refused()
    {
        var e = Refused(s => { s["train_fraction"] = 1.5; return s; });

        Assert.Equal("app setting 'train_fraction' is 1.5; expected a fraction strictly between 0 and 1", e.Message);
    }

    [Fact]
    public void Uci_format_needs_column_names()
    {
        var e = Refused(s => { s.Remove("columns"); return s; });

        Assert.StartsWith("app setting 'columns' is missing", e.Message);
    }

    [Fact]
    public void Mlp_needs_hidden_layer_sizes()
    {
        var e = Refused(s => { s["model"] = "mlp"; return s; });

        Assert.StartsWith("app setting 'hidden' is missing", e.Message);
    }

    [Fact]
    public void Mlp_reads_hidden_sizes_from_a_comma_joined_sequence()
    {
        var app = new TabularAppFactory().CreateTabular(Context(s => { s["model"] = "mlp"; s["hidden"] = "8,4"; return s; }, Cleveland));

        Assert.Equal([8, 4], app.Settings.Hidden);
    }

    [Theory]
    [InlineData("8,65537", "app setting 'hidden' has a layer of 65537 units (layer 2); at most 65536 per layer")]
    [InlineData("2147483647", "app setting 'hidden' has a layer of 2147483647 units (layer 1); at most 65536 per layer")]
    [InlineData("65536,65536", "app setting 'hidden' needs 4294967296 weights between its layers; at most 268435456")]
    [InlineData("1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", "app setting 'hidden' has 17 layers; at most 16")]
    public void Mlp_hidden_layers_are_bounded_in_size_and_number_before_any_weight_is_allocated(string hidden, string expected)
    {
        var e = Refused(s => { s["model"] = "mlp"; s["hidden"] = hidden; return s; });

        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void Mlp_takes_sixteen_layers()
    {
        var app = new TabularAppFactory().CreateTabular(Context(s => { s["model"] = "mlp"; s["hidden"] = string.Join(",", Enumerable.Repeat(2, 16)); return s; }, Cleveland));

        Assert.Equal(16, app.Settings.Hidden.Count);
    }

    [Fact]
    public void A_bad_label_rule_is_named()
    {
        var e = Refused(s => { s["positive"] = "disease"; return s; });

        Assert.StartsWith("app setting 'positive' is 'disease': label rule 'disease' must start with one of", e.Message);
    }

    [Fact]
    public void The_node_setting_data_is_required()
    {
        var plan = HeartDiseasePlan.Load();

        var e = Assert.Throws<AppConfigurationException>(() => new TabularAppFactory().Create(new ClientAppContext("run", "site", plan.App.Settings, Config.Empty)));

        Assert.Equal("node setting 'data' is missing (required: the path of this node's data file)", e.Message);
    }

    [Fact]
    public void A_missing_data_file_is_named()
    {
        string path = Path.Combine(Path.GetTempPath(), "cohort-no-such-file.data");

        var e = Assert.Throws<TabularDataException>(() => new TabularAppFactory().Create(Context(s => s, path)));

        Assert.Equal($"{path}: file not found", e.Message);
    }
}
