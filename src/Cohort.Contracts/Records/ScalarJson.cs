using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cohort.Records;

/// <summary>
/// JSON form of scalar maps: a flat object of booleans, numbers and strings. Integers are written
/// without and doubles with a decimal point or exponent, so each reads back as its own kind; the
/// strings "NaN", "Infinity" and "-Infinity" stand for those doubles.
/// </summary>
internal static class ScalarJson
{
    /// <summary>The map as a JSON object.</summary>
    public static JsonObject ToJsonObject(IEnumerable<KeyValuePair<string, Scalar>> values)
    {
        var o = new JsonObject();
        foreach (var (key, v) in values)
        {
            o[key] = v.Kind switch
            {
                ScalarKind.Bool => JsonValue.Create(v.AsBool()),
                ScalarKind.Int => JsonValue.Create(v.AsInt()),
                ScalarKind.Double => DoubleNode(v.AsDouble()),
                _ => JsonValue.Create(v.AsString()),
            };
        }
        return o;
    }

    /// <summary>
    /// A double as JSON that reads back as a double: integral values keep a ".0" (JSON's "1" would read
    /// back as an integer), and NaN and ±infinity, which JSON numbers cannot hold, become the strings
    /// "NaN", "Infinity" and "-Infinity" (System.Text.Json's named floating-point literals).
    /// </summary>
    private static JsonNode DoubleNode(double d)
    {
        if (!double.IsFinite(d)) return JsonValue.Create(d.ToString(CultureInfo.InvariantCulture));
        string text = d.ToString("R", CultureInfo.InvariantCulture);
        if (text.AsSpan().IndexOfAny('.', 'E', 'e') < 0) text += ".0";
        return JsonNode.Parse(text)!;
    }

    /// <summary>The map as JSON text.</summary>
    public static string Serialize(IEnumerable<KeyValuePair<string, Scalar>> values) => ToJsonObject(values).ToJsonString();

    /// <summary>Entries read back from JSON text written by <see cref="Serialize"/>.</summary>
    public static IEnumerable<KeyValuePair<string, Scalar>> Deserialize(string? json)
    {
        if (string.IsNullOrEmpty(json)) yield break;
        using var doc = JsonDocument.Parse(json);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            Scalar v = p.Value.ValueKind switch
            {
                JsonValueKind.True => Scalar.Of(true),
                JsonValueKind.False => Scalar.Of(false),
                JsonValueKind.Number when p.Value.TryGetInt64(out long l) && !p.Value.GetRawText().Contains('.') && !p.Value.GetRawText().Contains('e', StringComparison.OrdinalIgnoreCase) => Scalar.Of(l),
                JsonValueKind.Number => Scalar.Of(p.Value.GetDouble()),
                JsonValueKind.String when p.Value.GetString() is "NaN" => Scalar.Of(double.NaN),
                JsonValueKind.String when p.Value.GetString() is "Infinity" => Scalar.Of(double.PositiveInfinity),
                JsonValueKind.String when p.Value.GetString() is "-Infinity" => Scalar.Of(double.NegativeInfinity),
                _ => Scalar.Of(p.Value.ToString()),
            };
            yield return KeyValuePair.Create(p.Name, v);
        }
    }

    /// <summary>Metrics read back from JSON text.</summary>
    public static Metrics ToMetrics(string? json) => new(Deserialize(json));
}
