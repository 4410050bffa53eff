using Cohort.Records;

namespace Cohort.Tests.Records;

public sealed class ScalarMapTests
{
    private static Config Make(params (string Key, Scalar Value)[] entries) => new(entries.Select(e => KeyValuePair.Create(e.Key, e.Value)));

    [Fact]
    public void Config_GetDouble_on_a_string_names_the_key_and_the_value()
    {
        var config = Make(("learning_rate", "fast"));

        var e = Assert.Throws<InvalidCastException>(() => config.GetDouble("learning_rate", 0.1));
        Assert.Equal("config key 'learning_rate': expected a number, got string fast", e.Message);
    }

    [Fact]
    public void Typed_getters_name_the_map_and_key_on_every_kind_error()
    {
        var config = Make(("epochs", 1.5), ("shuffle", "yes"), ("name", 3));
        var metrics = new Metrics([new("accuracy", "high")]);

        Assert.StartsWith("config key 'epochs': ", Assert.Throws<InvalidCastException>(() => config.GetInt("epochs", 1)).Message);
        Assert.StartsWith("config key 'shuffle': ", Assert.Throws<InvalidCastException>(() => config.GetBool("shuffle", false)).Message);
        Assert.StartsWith("config key 'name': ", Assert.Throws<InvalidCastException>(() => config.GetString("name", "")).Message);
        Assert.StartsWith("config key 'name': ", Assert.Throws<InvalidCastException>(() => config.GetStringOrNull("name")).Message);
        Assert.StartsWith("metrics key 'accuracy': ", Assert.Throws<InvalidCastException>(() => metrics.GetDouble("accuracy", 0)).Message);
    }

    [Fact]
    public void Typed_getters_convert_present_values_and_fall_back_for_absent_keys()
    {
        var config = Make(("lr", 0.01), ("epochs", 3), ("steps", 100.0), ("shuffle", true), ("optimizer", "adam"));

        Assert.Equal(0.01, config.GetDouble("lr", 1));
        Assert.Equal(3.0, config.GetDouble("epochs", 1));
        Assert.Equal(100, config.GetInt("steps", 1));
        Assert.True(config.GetBool("shuffle", false));
        Assert.Equal("adam", config.GetString("optimizer", "sgd"));
        Assert.Equal(0.5, config.GetDouble("momentum", 0.5));
        Assert.Equal(7, config.GetInt("missing", 7));
        Assert.Null(config.GetStringOrNull("missing"));
    }

    [Fact]
    public void Indexing_a_missing_key_names_the_map_and_the_key()
    {
        Assert.Equal("config has no key 'lr'", Assert.Throws<KeyNotFoundException>(() => Config.Empty["lr"]).Message);
        Assert.Equal("metrics has no key 'auc'", Assert.Throws<KeyNotFoundException>(() => Metrics.Empty["auc"]).Message);
    }

    [Fact]
    public void Keys_are_case_sensitive()
    {
        var config = Make(("lr", 0.1));

        Assert.True(config.ContainsKey("lr"));
        Assert.False(config.ContainsKey("LR"));
    }

    [Fact]
    public void With_replaces_and_adds_entries_without_changing_the_original()
    {
        var original = Make(("lr", 0.1), ("epochs", 1));

        var changed = original.With([new("lr", 0.05), new("momentum", 0.9)]);

        Assert.Equal(0.05, changed["lr"].AsDouble());
        Assert.Equal(1, changed["epochs"].AsInt());
        Assert.Equal(0.9, changed["momentum"].AsDouble());
        Assert.Equal(0.1, original["lr"].AsDouble());
        Assert.False(original.ContainsKey("momentum"));
    }

    [Fact]
    public void A_map_copies_its_entries()
    {
        var source = new Dictionary<string, Scalar> { ["a"] = 1 };
        var config = new Config(source);
        source["a"] = 2;

        Assert.Equal(1, config["a"].AsInt());
    }
}
