using System.Buffers;
using System.Text;
using System.Text.Json;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Models;

/// <summary>
/// A <see cref="StrategyCheckpoint"/> as one <see cref="ParameterSet"/>, so that it is written and
/// checksummed like a model: the state tensors under "state/", and the strategy name and scalars as
/// UTF-8 JSON in a byte tensor named <see cref="MetaTensor"/>. Doubles are kept as their bit patterns so
/// that a restored state is bit-exact.
/// </summary>
internal static class CheckpointCodec
{
    /// <summary>The tensor that holds the strategy name and scalars.</summary>
    public const string MetaTensor = "checkpoint/meta";

    private const string StatePrefix = "state/";

    /// <summary>Packs <paramref name="checkpoint"/> into a parameter set (copies of its tensors).</summary>
    public static ParameterSet Encode(StrategyCheckpoint checkpoint) => Pack(checkpoint, share: false);

    /// <summary>
    /// Packs <paramref name="checkpoint"/> into a parameter set that shares its tensors' data, for writing
    /// it out at once: a copy would be one more model's worth of memory for FedAvgM's velocity or each of
    /// FedAdam's moments, beside the checkpoint (itself a copy of the strategy's state) and the models.
    /// </summary>
    public static ParameterSet EncodeForWriting(StrategyCheckpoint checkpoint) => Pack(checkpoint, share: true);

    private static ParameterSet Pack(StrategyCheckpoint checkpoint, bool share)
    {
        // Written by hand rather than by reflection (a NativeAOT build has none): the same bytes the serializer wrote
        // for {"strategy": name, "values": [{"key", "kind", "value"}, ...]}.
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("strategy", checkpoint.Strategy);
            writer.WriteStartArray("values");
            foreach (var (key, value) in checkpoint.Values.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                writer.WriteStartObject();
                writer.WriteString("key", key);
                writer.WriteString("kind", value.Kind.ToString());
                switch (value.Kind)
                {
                    case ScalarKind.Bool: writer.WriteBoolean("value", value.AsBool()); break;
                    case ScalarKind.Int: writer.WriteNumber("value", value.AsInt()); break;
                    case ScalarKind.Double: writer.WriteNumber("value", BitConverter.DoubleToInt64Bits(value.AsDouble())); break;
                    default: writer.WriteString("value", value.AsString()); break;
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        var json = buffer.WrittenSpan;
        // Padded to whole int32 elements; the JSON reader ignores trailing spaces.
        var padded = new byte[(json.Length + 3) / 4 * 4];
        Array.Fill(padded, (byte)' ');
        json.CopyTo(padded);
        var meta = new Tensor(MetaTensor, DType.Int32, [padded.Length / 4], padded);
        var state = share
            ? checkpoint.Tensors.Select(t => new Tensor(StatePrefix + t.Name, t.DType, (int[])t.Shape.Clone(), t.Data))
            : StrategyCheckpoint.Prefixed(checkpoint.Tensors, StatePrefix);
        return new ParameterSet(state.Append(meta));
    }

    /// <summary>Unpacks a parameter set made by <see cref="Encode"/>; throws <see cref="InvalidDataException"/> when it is not one.</summary>
    public static StrategyCheckpoint Decode(ParameterSet set)
    {
        var meta = set.FirstOrDefault(t => t.Name == MetaTensor)
            ?? throw new InvalidDataException($"not a strategy checkpoint: no '{MetaTensor}' tensor");
        try
        {
            using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(meta.Data).TrimEnd(' '));
            string strategy = doc.RootElement.GetProperty("strategy").GetString() ?? throw new InvalidDataException("strategy checkpoint: no strategy name");
            var values = new List<KeyValuePair<string, Scalar>>();
            foreach (var v in doc.RootElement.GetProperty("values").EnumerateArray())
            {
                string key = v.GetProperty("key").GetString()!;
                var value = v.GetProperty("value");
                var scalar = v.GetProperty("kind").GetString() switch
                {
                    nameof(ScalarKind.Bool) => Scalar.Of(value.GetBoolean()),
                    nameof(ScalarKind.Int) => Scalar.Of(value.GetInt64()),
                    nameof(ScalarKind.Double) => Scalar.Of(BitConverter.Int64BitsToDouble(value.GetInt64())),
                    nameof(ScalarKind.String) => Scalar.Of(value.GetString()!),
                    var other => throw new InvalidDataException($"strategy checkpoint: value '{key}' has unknown kind '{other}'"),
                };
                values.Add(KeyValuePair.Create(key, scalar));
            }
            var state = new StrategyCheckpoint(strategy, new ParameterSet(set.Where(t => t.Name != MetaTensor).ToArray()), Config.Empty);
            return new StrategyCheckpoint(strategy, state.Section(StatePrefix) ?? new ParameterSet([]), new Config(values));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"strategy checkpoint: unreadable metadata ({e.Message})", e);
        }
    }
}
