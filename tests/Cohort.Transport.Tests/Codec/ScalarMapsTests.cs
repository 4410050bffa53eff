using Cohort.Records;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Google.Protobuf;
using Scalar = Cohort.Records.Scalar;
using WireScalar = Cohort.Transport.V1.Scalar;

namespace Cohort.Transport.Tests.Codec;

public sealed class ScalarMapsTests
{
    private static readonly (string Key, Scalar Value)[] Entries =
    [
        ("shuffle", true), ("dropout", false),
        ("epochs", 3), ("max", long.MaxValue), ("min", long.MinValue), ("negative", -1),
        ("lr", 0.01), ("integral_double", 2.0), ("nan", double.NaN), ("inf", double.NegativeInfinity), ("negzero", -0.0),
        ("optimizer", "adam"), ("empty", ""), ("unicode", "süß 🚀"),
    ];

    private static IEnumerable<KeyValuePair<string, Scalar>> Pairs => Entries.Select(e => KeyValuePair.Create(e.Key, e.Value));

    [Fact]
    public void Config_round_trips_through_a_serialized_task_header_keeping_every_kind()
    {
        var header = new TaskHeader();
        ScalarMaps.CopyTo(new Config(Pairs), header.Config);

        var config = ScalarMaps.ToConfig(TaskHeader.Parser.ParseFrom(header.ToByteArray()).Config);

        Assert.Equal(Entries.Length, config.Count);
        foreach (var (key, value) in Entries)
        {
            Assert.Equal(value.Kind, config[key].Kind);
            Assert.Equal(value, config[key]);
        }
        Assert.True(double.IsNegative(config["negzero"].AsDouble()));
    }

    [Fact]
    public void Metrics_round_trip_through_a_serialized_result_header()
    {
        var header = new ResultHeader();
        ScalarMaps.CopyTo(new Metrics(Pairs), header.Metrics);

        var metrics = ScalarMaps.ToMetrics(ResultHeader.Parser.ParseFrom(header.ToByteArray()).Metrics);

        Assert.Equal(new Metrics(Pairs).OrderBy(kv => kv.Key), metrics.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Each_kind_maps_to_its_own_wire_case()
    {
        Assert.Equal(WireScalar.ValueOneofCase.BoolValue, ScalarMaps.ToWire(false).ValueCase);
        Assert.Equal(WireScalar.ValueOneofCase.IntValue, ScalarMaps.ToWire(0).ValueCase);
        Assert.Equal(WireScalar.ValueOneofCase.DoubleValue, ScalarMaps.ToWire(0.0).ValueCase);
        Assert.Equal(WireScalar.ValueOneofCase.StringValue, ScalarMaps.ToWire("").ValueCase);
    }

    [Fact]
    public void Default_values_keep_their_kind_on_the_wire()
    {
        // proto3 omits default scalars, but a oneof member is sent even when it holds 0, false or "".
        foreach (Scalar value in new Scalar[] { false, 0, 0.0, "" })
        {
            var parsed = WireScalar.Parser.ParseFrom(ScalarMaps.ToWire(value).ToByteArray());
            Assert.Equal(value, ScalarMaps.FromWire(parsed));
        }
    }

    [Fact]
    public void An_unset_wire_scalar_reads_as_an_empty_string()
    {
        Assert.Equal(Scalar.Of(""), ScalarMaps.FromWire(new WireScalar()));
    }

    [Fact]
    public void CopyTo_replaces_existing_keys_and_keeps_others()
    {
        var header = new TaskHeader();
        header.Config["lr"] = new WireScalar { DoubleValue = 1.0 };
        header.Config["kept"] = new WireScalar { IntValue = 7 };

        ScalarMaps.CopyTo([new("lr", 0.5)], header.Config);

        var config = ScalarMaps.ToConfig(header.Config);
        Assert.Equal(0.5, config["lr"].AsDouble());
        Assert.Equal(7, config["kept"].AsInt());
    }

    [Fact]
    public void Empty_maps_round_trip_empty()
    {
        var header = new TaskHeader();
        ScalarMaps.CopyTo(Config.Empty, header.Config);

        Assert.Empty(ScalarMaps.ToConfig(header.Config));
        Assert.Empty(ScalarMaps.ToMetrics(new ResultHeader().Metrics));
    }
}
