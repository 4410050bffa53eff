using Cohort.Records;
using Google.Protobuf.Collections;
using WireScalar = Cohort.Transport.V1.Scalar;

namespace Cohort.Transport.Codec;

/// <summary>Converts Config and Metrics maps to and from their wire form.</summary>
internal static class ScalarMaps
{
    /// <summary>Copies <paramref name="values"/> into a protobuf map.</summary>
    public static void CopyTo(IEnumerable<KeyValuePair<string, Records.Scalar>> values, MapField<string, WireScalar> target)
    {
        foreach (var (key, v) in values) target[key] = ToWire(v);
    }

    /// <summary>One scalar to wire form.</summary>
    public static WireScalar ToWire(Records.Scalar v) => v.Kind switch
    {
        ScalarKind.Bool => new WireScalar { BoolValue = v.AsBool() },
        ScalarKind.Int => new WireScalar { IntValue = v.AsInt() },
        ScalarKind.Double => new WireScalar { DoubleValue = v.AsDouble() },
        _ => new WireScalar { StringValue = v.AsString() },
    };

    /// <summary>One scalar from wire form; an unset value (from a newer peer) reads as an empty string.</summary>
    public static Records.Scalar FromWire(WireScalar v) => v.ValueCase switch
    {
        WireScalar.ValueOneofCase.BoolValue => Records.Scalar.Of(v.BoolValue),
        WireScalar.ValueOneofCase.IntValue => Records.Scalar.Of(v.IntValue),
        WireScalar.ValueOneofCase.DoubleValue => Records.Scalar.Of(v.DoubleValue),
        WireScalar.ValueOneofCase.StringValue => Records.Scalar.Of(v.StringValue),
        _ => Records.Scalar.Of(""),
    };

    /// <summary>A config from a wire map.</summary>
    public static Config ToConfig(MapField<string, WireScalar> map) => new(map.Select(kv => KeyValuePair.Create(kv.Key, FromWire(kv.Value))));

    /// <summary>Metrics from a wire map.</summary>
    public static Metrics ToMetrics(MapField<string, WireScalar> map) => new(map.Select(kv => KeyValuePair.Create(kv.Key, FromWire(kv.Value))));
}
