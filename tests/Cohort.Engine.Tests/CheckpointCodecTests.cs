using System.Text;
using System.Text.Json;
using Cohort.Engine.Models;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Tests;

/// <summary>Strategy checkpoints keep the metadata bytes earlier versions wrote, and read back exactly.</summary>
public sealed class CheckpointCodecTests
{
    private static readonly StrategyCheckpoint Checkpoint = new("fedadam",
        new ParameterSet([Tensor.FromFloat32("m", [3], [0.5f, -1f, 2f])]),
        new Config([
            KeyValuePair.Create("t", Scalar.Of(7L)),
            KeyValuePair.Create("beta", Scalar.Of(0.1 + 0.2)),
            KeyValuePair.Create("nan", Scalar.Of(double.NaN)),
            KeyValuePair.Create("started", Scalar.Of(true)),
            KeyValuePair.Create("note", Scalar.Of("<é & \"quoted\">")),
        ]));

    [Fact]
    public void Metadata_is_the_json_the_reflection_serializer_wrote_for_the_same_checkpoint()
    {
        var meta = CheckpointCodec.Encode(Checkpoint).Single(t => t.Name == CheckpointCodec.MetaTensor);
        // What Encode serialised (by reflection) before it wrote the JSON itself.
        var values = Checkpoint.Values.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new Dictionary<string, object>
        {
            ["key"] = kv.Key,
            ["kind"] = kv.Value.Kind.ToString(),
            ["value"] = kv.Value.Kind switch
            {
                ScalarKind.Bool => kv.Value.AsBool(),
                ScalarKind.Int => kv.Value.AsInt(),
                ScalarKind.Double => BitConverter.DoubleToInt64Bits(kv.Value.AsDouble()),
                _ => kv.Value.AsString(),
            },
        }).ToArray();
        string before = Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["strategy"] = Checkpoint.Strategy, ["values"] = values }));
        Assert.Equal(before, Encoding.UTF8.GetString(meta.Data).TrimEnd(' '));
    }

    [Fact]
    public void A_checkpoint_reads_back_with_every_scalar_bit_exact()
    {
        var back = CheckpointCodec.Decode(CheckpointCodec.Encode(Checkpoint));
        Assert.Equal("fedadam", back.Strategy);
        Assert.Equal(7L, back.Values["t"].AsInt());
        Assert.Equal(BitConverter.DoubleToInt64Bits(0.1 + 0.2), BitConverter.DoubleToInt64Bits(back.Values["beta"].AsDouble()));
        Assert.True(double.IsNaN(back.Values["nan"].AsDouble()));
        Assert.True(back.Values["started"].AsBool());
        Assert.Equal("<é & \"quoted\">", back.Values["note"].AsString());
        Assert.Equal([0.5f, -1f, 2f], back.Tensors.Single().AsFloat32().ToArray());
    }
}
