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

    /// <summary>
    /// The state tensors of a checkpoint kept in a file (<see cref="StrategyCheckpoint.Stored"/>), named as
    /// <see cref="Encode"/> names them, to be written out after them with <see cref="Meta"/>: the same file,
    /// byte for byte, as the encoded checkpoint gives.
    /// </summary>
    public static StoredTensors StoredState(StoredTensors stored) => stored.Prefixed(StatePrefix);

    /// <summary>The tensor that holds <paramref name="checkpoint"/>'s strategy name and scalars (the last of an encoded checkpoint).</summary>
    public static Tensor Meta(StrategyCheckpoint checkpoint)
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
        return new Tensor(MetaTensor, DType.Int32, [padded.Length / 4], padded);
    }

    private static ParameterSet Pack(StrategyCheckpoint checkpoint, bool share)
    {
        var meta = Meta(checkpoint);
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
        var (strategy, values) = ReadMeta(meta.Data);
        var state = new StrategyCheckpoint(strategy, new ParameterSet(set.Where(t => t.Name != MetaTensor).ToArray()), Config.Empty);
        return new StrategyCheckpoint(strategy, state.Section(StatePrefix) ?? new ParameterSet([]), values);
    }

    /// <summary>
    /// Unpacks an encoded checkpoint left in its file (<see cref="ParameterSetFile.OpenStoredAsync"/>): its state
    /// stays there, to be read a range at a time; throws <see cref="InvalidDataException"/> when it is not one.
    /// </summary>
    public static StrategyCheckpoint Decode(StoredTensors set)
    {
        int index = set.Tensors.ToList().FindIndex(t => t.Name == MetaTensor);
        if (index < 0) throw new InvalidDataException($"not a strategy checkpoint: no '{MetaTensor}' tensor");
        var metaBytes = new byte[set.Tensors[index].ByteCount];
        set.Read(index, 0, metaBytes);
        var (strategy, values) = ReadMeta(metaBytes);
        return set.Section(StatePrefix) is { } state
            ? new StrategyCheckpoint(strategy, state, values)
            : new StrategyCheckpoint(strategy, new ParameterSet([]), values);
    }

    private static (string Strategy, Config Values) ReadMeta(byte[] meta)
    {
        try
        {
            using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(meta).TrimEnd(' '));
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
            return (strategy, new Config(values));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"strategy checkpoint: unreadable metadata ({e.Message})", e);
        }
    }
}
