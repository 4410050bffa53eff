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
    public static string ComputeHash(long seq, DateTimeOffset time, AuditEvent e, string? key, string prevHash) =>
        ComputeHash(seq, FormatTime(time), EventEncoding.Of(e, key), prevHash);

    /// <summary>The hash of an entry whose event and key <paramref name="encoded"/> holds, with the time as written.</summary>
    internal static string ComputeHash(long seq, string time, EventEncoding encoded, string prevHash)
    {
        var buffer = new ArrayBufferWriter<byte>(Domain.Length + encoded.HashFields.Length + 160);
        buffer.Write(Domain);
        Field(buffer, seq.ToString(CultureInfo.InvariantCulture));
        Field(buffer, time);
        buffer.Write(encoded.HashFields);
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
        var line = Line(Seq, FormatTime(Time), EventEncoding.Of(Event, Key), PrevHash, Hash, Sig);
        return Encoding.UTF8.GetString(line, 0, line.Length - 1);
    }

    /// <summary>
    /// The entry's JSON line, newline included: the fields in the order seq, time, kind, actor, run, round, node, task,
    /// detail, digest, key, prev_hash, hash, sig, those absent left out, strings escaped as <see cref="Utf8JsonWriter"/> does.
    /// </summary>
    internal static byte[] Line(long seq, string time, EventEncoding encoded, string prevHash, string hash, string? sig)
    {
        var buffer = new ArrayBufferWriter<byte>(encoded.JsonFields.Length + 200 + (sig?.Length ?? 0));
        buffer.Write("{\"seq\":"u8);
        buffer.Write(Encoding.ASCII.GetBytes(seq.ToString(CultureInfo.InvariantCulture)));
        JsonString(buffer, ",\"time\":"u8, time);
        buffer.Write(","u8);
        buffer.Write(encoded.JsonFields);
        JsonString(buffer, ",\"prev_hash\":"u8, prevHash);
        JsonString(buffer, ",\"hash\":"u8, hash);
        if (sig is not null) JsonString(buffer, ",\"sig\":"u8, sig);
        buffer.Write("}\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static void JsonString(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> name, string value)
    {
        buffer.Write(name);
        buffer.Write("\""u8);
        buffer.Write(JsonEncodedText.Encode(value).EncodedUtf8Bytes);
        buffer.Write("\""u8);
    }

    /// <summary>
    /// What an entry's hash and JSON line take from its event and key alone, encoded before a ledger takes its lock, which
    /// then only adds the sequence number, the time and the chain.
    /// </summary>
    internal sealed class EventEncoding
    {
        private EventEncoding(byte[] hashFields, byte[] jsonFields)
        {
            HashFields = hashFields;
            JsonFields = jsonFields;
        }

        /// <summary>The canonical encoding of kind, actor, run, round, node, task, detail, digest and key.</summary>
        public byte[] HashFields { get; }

        /// <summary>The same fields as JSON members, without braces: <c>"kind":"…",…</c>.</summary>
        public byte[] JsonFields { get; }

        /// <summary>Encodes <paramref name="e"/> and <paramref name="key"/>.</summary>
        public static EventEncoding Of(AuditEvent e, string? key)
        {
            var hash = new ArrayBufferWriter<byte>(256);
            Field(hash, e.Kind);
            Field(hash, e.Actor);
            Field(hash, e.Run);
            Field(hash, e.Round?.ToString(CultureInfo.InvariantCulture));
            Field(hash, e.Node);
            Field(hash, e.Task);
            Field(hash, e.Detail);
            Field(hash, e.Digest);
            Field(hash, key);
            var json = new ArrayBufferWriter<byte>(256);
            using (var w = new Utf8JsonWriter(json))
            {
                w.WriteStartObject();
                w.WriteString("kind", e.Kind);
                w.WriteString("actor", e.Actor);
                Optional(w, "run", e.Run);
                if (e.Round is { } round) w.WriteNumber("round", round);
                Optional(w, "node", e.Node);
                Optional(w, "task", e.Task);
                w.WriteString("detail", e.Detail);
                Optional(w, "digest", e.Digest);
                Optional(w, "key", key);
                w.WriteEndObject();
            }
            // The object's members, its braces cut: the line puts them between time and prev_hash.
            return new EventEncoding(hash.WrittenSpan.ToArray(), json.WrittenSpan[1..^1].ToArray());
        }
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
