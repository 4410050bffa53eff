using Cohort.Engine.Nodes;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Engine.Models;

/// <summary>
/// A <see cref="KeptResult"/> as one parameter set, written and checksummed like a model: the result's
/// tensors as they arrived, and the node, version, counts, loss and metrics as the scalars of a
/// <see cref="CheckpointCodec"/> record (doubles by bit pattern, so a kept result folds in bit-exactly).
/// </summary>
internal static class KeptResultCodec
{
    private const string Kind = "fit-result";
    private const string MetricPrefix = "metric/";

    /// <summary>Packs <paramref name="result"/> (whose outcome carries parameters, in memory or spooled) into a parameter set.</summary>
    public static ParameterSet Encode(KeptResult result)
    {
        var o = result.Outcome;
        var values = new List<KeyValuePair<string, Scalar>>
        {
            KeyValuePair.Create("node", Scalar.Of(result.Node)),
            KeyValuePair.Create("sent_version", Scalar.Of((long)result.SentVersion)),
            KeyValuePair.Create("examples", Scalar.Of(o.Examples)),
            KeyValuePair.Create("loss", Scalar.Of(o.Loss)),
            KeyValuePair.Create("duration_seconds", Scalar.Of(o.DurationSeconds)),
            KeyValuePair.Create("upload_bytes", Scalar.Of(o.UploadBytes)),
        };
        values.AddRange(o.Metrics.Select(m => KeyValuePair.Create(MetricPrefix + m.Key, m.Value)));
        // A result received to disk is read in to be kept (its spool file stays open for the fold that follows).
        var tensors = o.Parameters ?? o.Spooled?.Load() ?? throw new ArgumentException("a kept fit result needs its parameters", nameof(result));
        // Shared, not copied: what is encoded is written out at once (a copy was one more result's worth of memory and time).
        return CheckpointCodec.EncodeForWriting(new StrategyCheckpoint(Kind, tensors, new Config(values)));
    }

    /// <summary>Unpacks what <see cref="Encode"/> made; throws <see cref="InvalidDataException"/> when it is not a kept result.</summary>
    public static KeptResult Decode(ParameterSet set)
    {
        var saved = CheckpointCodec.Decode(set);
        if (saved.Strategy != Kind) throw new InvalidDataException($"not a kept fit result (it says '{saved.Strategy}')");
        try
        {
            var v = saved.Values;
            var metrics = new Metrics(v.Where(kv => kv.Key.StartsWith(MetricPrefix, StringComparison.Ordinal))
                .Select(kv => KeyValuePair.Create(kv.Key[MetricPrefix.Length..], kv.Value)));
            var outcome = new TaskOutcome(true, null, v["examples"].AsInt(), v["loss"].AsDouble(), metrics, saved.Tensors,
                v["duration_seconds"].AsDouble(), v["upload_bytes"].AsInt());
            return new KeptResult(v["node"].AsString(), (int)v["sent_version"].AsInt(), outcome);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidCastException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"kept fit result: {e.Message}", e);
        }
    }
}
