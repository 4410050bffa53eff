using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Cohort.Audit;

/// <summary>
/// One line of a ledger: an <see cref="AuditEvent"/> with its sequence number, time, the hash of the entry
/// before it, its own hash and (in a signed ledger) the signature of that hash.
/// </summary>
public sealed record AuditEntry
{
    /// <summary>The <c>prev_hash</c> of entry 1.</summary>
    public static readonly string Genesis = new('0', 64);

    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";
    private static readonly byte[] Domain = "cohort.audit.v1\n"u8.ToArray();

    /// <summary>Position in the ledger, from 1, without gaps.</summary>
    public required long Seq { get; init; }

    /// <summary>When it was appended (UTC).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>What happened.</summary>
    public required AuditEvent Event { get; init; }

    /// <summary>Id of the key that signed it (<see cref="AuditSigner.KeyIdOf"/>); null in an unsigned ledger.</summary>
    public string? Key { get; init; }

    /// <summary>Hash of the entry before (hex); <see cref="Genesis"/> for the first.</summary>
    public required string PrevHash { get; init; }

    /// <summary>SHA-256 (hex) of the canonical encoding of every field above.</summary>
    public required string Hash { get; init; }

    /// <summary>Signature (base64) of <see cref="Hash"/>'s bytes by <see cref="Key"/>; null in an unsigned ledger.</summary>
    public string? Sig { get; init; }

    /// <summary>
    /// SHA-256 over the canonical encoding: the domain tag <c>cohort.audit.v1\n</c>, then each field in the
    /// order seq, time, kind, actor, run, round, node, task, detail, digest, key, prev_hash, as byte 0, a 4-byte
    /// big-endian length and its UTF-8 text (numbers in decimal, time as written), or byte 1 when absent.
    /// </summary>
    public static string ComputeHash(long seq, DateTimeOffset time, AuditEvent e, string? key, string prevHash)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write(Domain);
        Field(buffer, seq.ToString(CultureInfo.InvariantCulture));
        Field(buffer, FormatTime(time));
        Field(buffer, e.Kind);
        Field(buffer, e.Actor);
        Field(buffer, e.Run);
        Field(buffer, e.Round?.ToString(CultureInfo.InvariantCulture));
        Field(buffer, e.Node);
        Field(buffer, e.Task);
        Field(buffer, e.Detail);
        Field(buffer, e.Digest);
        Field(buffer, key);
        Field(buffer, prevHash);
        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }

    /// <summary>The hash this entry's fields give (equal to <see cref="Hash"/> unless the entry was altered).</summary>
    public string RecomputeHash() => ComputeHash(Seq, Time, Event, Key, PrevHash);

    /// <summary>The time as the ledger writes it.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>The entry as one JSON line (no newline).</summary>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", Seq);
            w.WriteString("time", FormatTime(Time));
            w.WriteString("kind", Event.Kind);
            w.WriteString("actor", Event.Actor);
            Optional(w, "run", Event.Run);
            if (Event.Round is { } round) w.WriteNumber("round", round);
            Optional(w, "node", Event.Node);
            Optional(w, "task", Event.Task);
            w.WriteString("detail", Event.Detail);
            Optional(w, "digest", Event.Digest);
            Optional(w, "key", Key);
            w.WriteString("prev_hash", PrevHash);
            w.WriteString("hash", Hash);
            Optional(w, "sig", Sig);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads one JSON line; throws <see cref="FormatException"/> naming what is missing or malformed.</summary>
    public static AuditEntry Parse(string line)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new FormatException($"not a JSON object ({e.Message})");
        }
        using (doc)
        {
            var o = doc.RootElement;
            if (o.ValueKind != JsonValueKind.Object) throw new FormatException("not a JSON object");
            string timeText = Required(o, "time");
            if (!DateTimeOffset.TryParseExact(timeText, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
                throw new FormatException($"time '{timeText}' is not a UTC time like 2026-01-31T12:00:00.0000000Z");
            return new AuditEntry
            {
                Seq = Number(o, "seq") ?? throw new FormatException("no seq"),
                Time = time,
                Event = new AuditEvent(Required(o, "kind"), Required(o, "actor"), Required(o, "detail"))
                {
                    Run = Text(o, "run"),
                    Round = Number(o, "round") is { } r ? checked((int)r) : null,
                    Node = Text(o, "node"),
                    Task = Text(o, "task"),
                    Digest = Text(o, "digest"),
                },
                Key = Text(o, "key"),
                PrevHash = Required(o, "prev_hash"),
                Hash = Required(o, "hash"),
                Sig = Text(o, "sig"),
            };
        }
    }

    private static void Field(ArrayBufferWriter<byte> buffer, string? value)
    {
        if (value is null)
        {
            buffer.Write([(byte)1]);
            return;
        }
        int length = Encoding.UTF8.GetByteCount(value);
        var span = buffer.GetSpan(5 + length);
        span[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], length);
        Encoding.UTF8.GetBytes(value, span[5..]);
        buffer.Advance(5 + length);
    }

    private static void Optional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null) w.WriteString(name, value);
    }

    private static string Required(JsonElement o, string name) => Text(o, name) ?? throw new FormatException($"no {name}");

    private static string? Text(JsonElement o, string name) =>
        !o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw new FormatException($"{name} is not a string");

    private static long? Number(JsonElement o, string name) =>
        !o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n
        : throw new FormatException($"{name} is not an integer");
}
