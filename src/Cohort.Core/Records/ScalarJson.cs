using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cohort.Records;

/// <summary>JSON form of scalar maps: a flat object of booleans, numbers and strings.</summary>
public static class ScalarJson
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
                ScalarKind.Double => double.IsFinite(v.AsDouble()) ? JsonValue.Create(v.AsDouble()) : JsonValue.Create(v.ToString()),
                _ => JsonValue.Create(v.AsString()),
            };
        }
        return o;
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
                _ => Scalar.Of(p.Value.ToString()),
            };
            yield return KeyValuePair.Create(p.Name, v);
        }
    }

    /// <summary>Metrics read back from JSON text.</summary>
    public static Metrics ToMetrics(string? json) => new(Deserialize(json));
}
