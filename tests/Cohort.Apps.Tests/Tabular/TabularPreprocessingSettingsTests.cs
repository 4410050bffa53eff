using Cohort.Apps.Tabular;
using Cohort.Learning.Data;
using Cohort.Records;

namespace Cohort.Apps.Tests.Tabular;

public sealed class TabularPreprocessingSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cohort-tabular-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // A CSV as pandas' to_csv writes it: an unnamed index column first, a text column, a numeric code.
    private string PandasCsv()
    {
        string path = Path.Combine(_dir, "site.csv");
        var lines = new List<string> { ",amount,channel,region,fraud" };
        string[] channels = ["web", "pos", "atm"];
        for (int i = 0; i < 60; i++)
            lines.Add($"{i},{10 + i * 3 % 17},{channels[i % 3]},{1 + i % 2},{(i % 5 == 0 ? 1 : 0)}");
        File.WriteAllLines(path, lines);
        return path;
    }

    private TabularApp Create(string path, params (string Key, Scalar Value)[] settings)
    {
        var config = new Config(new[] { ("label", Scalar.Of("fraud")) }.Concat(settings).Select(kv => KeyValuePair.Create(kv.Item1, kv.Item2)));
        return new TabularAppFactory().CreateTabular(new ClientAppContext("run", "site", config, new Config([KeyValuePair.Create("data", Scalar.Of(path))])));
    }

    [Fact]
    public void An_empty_first_header_cell_is_refused_with_a_hint_and_dropped_with_drop_index()
    {
        string path = PandasCsv();
        var e = Assert.Throws<TabularDataException>(() => Create(path, ("categorical", "auto")));
        Assert.Contains("column 1 has no name (an index column saved by pandas? set drop_index: true", e.Message);

        var app = Create(path, ("drop_index", true), ("categorical", "auto"));
        Assert.DoesNotContain(app.Data.Train.FeatureNames, n => n.Length == 0 || n.StartsWith('0'));

        File.WriteAllLines(Path.Combine(_dir, "named.csv"), ["id,amount,fraud", "1,2,0", "2,3,1", "3,4,0", "4,5,1"]);
        Assert.Contains("drop_index is set but the first header cell is 'id'",
            Assert.Throws<TabularDataException>(() => Create(Path.Combine(_dir, "named.csv"), ("drop_index", true))).Message);
    }

    [Fact]
    public void Categorical_auto_one_hot_encodes_every_text_column_with_its_sorted_values()
    {
        var app = Create(PandasCsv(), ("drop_index", true), ("categorical", "auto"));

        Assert.Equal(["amount", "region", "channel=atm", "channel=pos", "channel=web"], app.Data.Train.FeatureNames);
    }

    [Fact]
    public void A_categorical_list_infers_the_categories_of_the_named_columns_numbers_included()
    {
        var app = Create(PandasCsv(), ("drop_index", true), ("categorical", "channel,region"), ("standardize", "none"));

        Assert.Equal(["amount", "channel=atm", "channel=pos", "channel=web", "region=1", "region=2"], app.Data.Train.FeatureNames);
        // Unstandardised one-hot columns hold exactly 0 and 1.
        Assert.All(app.Data.Train.Features.Where((_, i) => i % 6 != 0), v => Assert.True(v is 0f or 1f));
    }

    [Fact]
    public async Task Standardize_site_is_the_default_none_keeps_values_and_global_trains_only_once_statistics_exist()
    {
        string path = PandasCsv();
        var site = Create(path, ("drop_index", true), ("categorical", "auto"));
        var none = Create(path, ("drop_index", true), ("categorical", "auto"), ("standardize", "none"));
        var legacy = Create(path, ("drop_index", true), ("categorical", "auto"), ("standardize", false));

        Assert.InRange(site.Data.Train.Features.Where((_, i) => i % 5 == 0).Average(), -1e-5, 1e-5);
        Assert.Equal(none.Data.Train.Features, legacy.Data.Train.Features);
        Assert.True(none.Data.Train.Features.Where((_, i) => i % 5 == 0).Min() >= 10);
        var config = new Config([KeyValuePair.Create("label", Scalar.Of("fraud")), KeyValuePair.Create("drop_index", Scalar.Of(true)), KeyValuePair.Create("categorical", Scalar.Of("auto")), KeyValuePair.Create("standardize", Scalar.Of("global"))]);
        var global = new TabularAppFactory().Create(new ClientAppContext("run", "site", config, new Config([KeyValuePair.Create("data", Scalar.Of(path))])));
        var statistics = await Assert.IsType<TabularStatisticsApp>(global).ComputeStatisticsAsync(Config.Empty, CancellationToken.None);
        Assert.Equal(site.Data.Train.Count, statistics.Examples);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => global.GetParametersAsync(Config.Empty, CancellationToken.None));
        Assert.Contains("need the federated statistics step before round 1", e.Message);
        Assert.Contains("allowed: site, global, none", Assert.Throws<AppConfigurationException>(() => Create(path, ("standardize", "zscore"))).Message);
    }

    [Fact]
    public void A_text_column_without_categorical_auto_is_refused_as_before()
    {
        var e = Assert.Throws<TabularDataException>(() => Create(PandasCsv(), ("drop_index", true)));
        Assert.Contains("'channel': 'web' is not a number", e.Message);
    }
}
