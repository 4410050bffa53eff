using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Cohort.Audit;

/// <summary>
/// The ledger's last entry as of the last sync (<c>audit.head</c>): its sequence number, hash and signature, so a
/// ledger cut short after that point is told apart from one that simply ended.
/// </summary>
public sealed record AuditHead(long Seq, string Hash, string? Key, string? Sig)
{
    /// <summary>The head as one JSON line.</summary>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", Seq);
            w.WriteString("hash", Hash);
            if (Key is not null) w.WriteString("key", Key);
            if (Sig is not null) w.WriteString("sig", Sig);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads a head; throws <see cref="FormatException"/> when it is malformed.</summary>
    public static AuditHead Parse(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var o = doc.RootElement;
            string? Optional(string name) => o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return new AuditHead(
                o.GetProperty("seq").GetInt64(),
                Optional("hash") ?? throw new FormatException("no hash"),
                Optional("key"),
                Optional("sig"));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"malformed ledger head ({e.Message})");
        }
    }
}
