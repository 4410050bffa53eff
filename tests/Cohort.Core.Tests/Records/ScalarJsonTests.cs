using Cohort.Records;

namespace Cohort.Tests.Records;

public sealed class ScalarJsonTests
{
    private static Dictionary<string, Scalar> RoundTrip(params (string Key, Scalar Value)[] entries) =>
        ScalarJson.Deserialize(ScalarJson.Serialize(entries.Select(e => KeyValuePair.Create(e.Key, e.Value)))).ToDictionary();

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(-42L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void Integers_stay_integers(long value)
    {
        var back = RoundTrip(("n", value))["n"];

        Assert.Equal(ScalarKind.Int, back.Kind);
        Assert.Equal(value, back.AsInt());
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(1.0)] // integral doubles must not come back as integers
    [InlineData(0.0)]
    [InlineData(-3.0)]
    [InlineData(123456.0)]
    [InlineData(1e15)]
    [InlineData(1e300)]
    [InlineData(-2.5e-300)]
    [InlineData(double.Epsilon)]
    [InlineData(double.MaxValue)]
    [InlineData(1.0 / 3.0)]
    public void Doubles_stay_doubles_bit_for_bit(double value)
    {
        var back = RoundTrip(("x", value))["x"];

        Assert.Equal(ScalarKind.Double, back.Kind);
        Assert.Equal(BitConverter.DoubleToInt64Bits(value), BitConverter.DoubleToInt64Bits(back.AsDouble()));
    }

    [Fact]
    public void Negative_zero_stays_a_negative_zero_double()
    {
        var back = RoundTrip(("z", -0.0))["z"];

        Assert.Equal(ScalarKind.Double, back.Kind);
        Assert.True(double.IsNegative(back.AsDouble()));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Non_finite_doubles_round_trip_as_doubles(double value)
    {
        var back = RoundTrip(("loss", value))["loss"];

        Assert.Equal(ScalarKind.Double, back.Kind);
        Assert.Equal(value, back.AsDouble());
    }

    [Fact]
    public void Non_finite_doubles_are_written_as_valid_json()
    {
        string json = ScalarJson.Serialize([new("loss", double.NaN), new("max", double.PositiveInfinity)]);

        Assert.Equal("""{"loss":"NaN","max":"Infinity"}""", json);
        using var _ = System.Text.Json.JsonDocument.Parse(json);
    }

    [Fact]
    public void Bools_and_strings_round_trip()
    {
        var back = RoundTrip(("t", true), ("f", false), ("s", "adam"), ("empty", ""), ("digits", "123"), ("quoted", "a \"b\" \\ ü"));

        Assert.Equal(Scalar.Of(true), back["t"]);
        Assert.Equal(Scalar.Of(false), back["f"]);
        Assert.Equal(Scalar.Of("adam"), back["s"]);
        Assert.Equal(Scalar.Of(""), back["empty"]);
        Assert.Equal(Scalar.Of("123"), back["digits"]);
        Assert.Equal(Scalar.Of("a \"b\" \\ ü"), back["quoted"]);
    }

    [Fact]
    public void A_mixed_map_round_trips_entry_for_entry()
    {
        (string, Scalar)[] entries = [("accuracy", 0.875), ("examples", 1200), ("auc", 1.0), ("converged", true), ("optimizer", "sgd"), ("loss", double.NaN)];

        var back = RoundTrip(entries);

        Assert.Equal(entries.Length, back.Count);
        foreach (var (key, value) in entries) Assert.Equal(value, back[key]);
    }

    [Fact]
    public void Json_written_by_others_reads_numbers_by_their_form()
    {
        var back = ScalarJson.Deserialize("""{"a": 3, "b": 3.0, "c": 3e2, "d": 1E-3, "e": 99999999999999999999}""").ToDictionary();

        Assert.Equal(Scalar.Of(3L), back["a"]);
        Assert.Equal(Scalar.Of(3.0), back["b"]);
        Assert.Equal(Scalar.Of(300.0), back["c"]);
        Assert.Equal(Scalar.Of(0.001), back["d"]);
        Assert.Equal(Scalar.Of(1e20), back["e"]);
    }

    [Fact]
    public void Null_or_empty_json_is_an_empty_map()
    {
        Assert.Empty(ScalarJson.Deserialize(null));
        Assert.Empty(ScalarJson.Deserialize(""));
        Assert.Empty(ScalarJson.ToMetrics(null));
        Assert.Equal("{}", ScalarJson.Serialize([]));
    }

    [Fact]
    public void ToMetrics_reads_a_metrics_map()
    {
        var metrics = ScalarJson.ToMetrics(ScalarJson.Serialize(new Metrics([new("accuracy", 0.5), new("n", 10)])));

        Assert.Equal(0.5, metrics.GetDouble("accuracy", 0));
        Assert.Equal(10, metrics.GetInt("n", 0));
    }
}
