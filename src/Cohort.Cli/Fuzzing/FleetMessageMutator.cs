using System.Security.Cryptography;
using Cohort.Transport.V1;
using Google.Protobuf;

namespace Cohort.Cli.Fuzzing;

/// <summary>
/// Builds Fleet protocol messages the way a node would, then bends them: wrong names and ids, extreme
/// numbers, lying manifests, misplaced or corrupt chunks, and raw byte mutations of the encoded message.
/// Deterministic for a seed.
/// </summary>
internal sealed class FleetMessageMutator(int seed)
{
    private static readonly long[] ExtremeLongs = [-1, 0, 1, 4, int.MaxValue, (long)int.MaxValue + 1, long.MaxValue, long.MinValue];
    // The server waits up to 30 s by design; longer asks are clamped, so they are not hangs worth counting.
    private static readonly int[] ShortWaits = [int.MinValue, -1, 0, 1];
    private static readonly double[] ExtremeDoubles = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, -1, 0, 0.5, 1e308];

    /// <summary>The generator behind every choice.</summary>
    public Random Random { get; } = new(seed);

    /// <summary>A string: usually <paramref name="usual"/>, else empty, long, odd characters or random.</summary>
    public string Text(string usual) => Random.Next(10) switch
    {
        < 7 => usual,
        7 => "",
        8 => new string('x', Random.Next(1, 5000)),
        _ => string.Concat(Enumerable.Range(0, Random.Next(1, 40)).Select(_ => (char)Random.Next(1, 0x3000))),
    };

    /// <summary>A number: usually <paramref name="usual"/>, else an extreme.</summary>
    public long Number(long usual) => Random.Next(4) == 0 ? ExtremeLongs[Random.Next(ExtremeLongs.Length)] : usual;

    /// <summary>A register request for <paramref name="node"/>, perhaps bent.</summary>
    public RegisterRequest Register(string node) => new()
    {
        NodeName = Text(node),
        App = Text("empty"),
        Version = Text("fuzz"),
        ProtocolVersion = (int)Number(1),
    };

    /// <summary>A heartbeat, perhaps naming a task that is not ours.</summary>
    public HeartbeatRequest Heartbeat(string node, string? taskId) => new() { NodeName = Text(node), BusyTaskId = Text(taskId ?? "") };

    /// <summary>A pull with a short wait (hangs are measured against a deadline, so waits stay under it).</summary>
    public PullTaskRequest Pull(string node) => new() { NodeName = Text(node), WaitMs = Random.Next(5) == 0 ? ShortWaits[Random.Next(ShortWaits.Length)] : Random.Next(0, 50) };

    /// <summary>
    /// The messages of one result upload for <paramref name="task"/>: an honest one (parameters shaped like
    /// <paramref name="model"/>) with zero to three mutations.
    /// </summary>
    public List<ResultMessage> Result(string node, TaskHeader? task, ParameterManifest? model)
    {
        var header = new ResultHeader
        {
            TaskId = task?.TaskId ?? Text("task"),
            NodeName = node,
            Ok = true,
            Examples = 10,
            Loss = 0.5,
            DurationSeconds = 0.01,
            HasParameters = task?.Kind != TaskKind.Evaluate,
        };
        var (manifest, data) = Parameters(model);
        var messages = new List<ResultMessage> { new() { Header = header } };
        if (header.HasParameters)
        {
            messages.Add(new ResultMessage { Manifest = manifest });
            int chunk = Math.Max(1, Random.Next(1, 4096));
            for (int offset = 0; offset < data.Length; offset += chunk)
                messages.Add(new ResultMessage { Chunk = new ParameterChunk { Offset = offset, Data = ByteString.CopyFrom(data, offset, Math.Min(chunk, data.Length - offset)) } });
        }
        int mutations = Random.Next(4);
        for (int m = 0; m < mutations; m++) Mutate(messages, header, manifest);
        return messages;
    }

    /// <summary>Flips, cuts, inserts or repeats bytes of an encoded message.</summary>
    public byte[] Bytes(IMessage message)
    {
        var bytes = message.ToByteArray().ToList();
        int edits = Random.Next(1, 5);
        for (int e = 0; e < edits; e++)
        {
            switch (Random.Next(4))
            {
                case 0 when bytes.Count > 0:
                    int i = Random.Next(bytes.Count);
                    bytes[i] ^= (byte)(1 << Random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    int start = Random.Next(bytes.Count);
                    bytes.RemoveRange(start, Random.Next(1, bytes.Count - start + 1));
                    break;
                case 2:
                    bytes.InsertRange(Random.Next(bytes.Count + 1), Enumerable.Range(0, Random.Next(1, 16)).Select(_ => (byte)Random.Next(256)));
                    break;
                default:
                    bytes.AddRange(bytes.Take(Random.Next(bytes.Count + 1)).ToArray());
                    break;
            }
        }
        return [.. bytes];
    }

    private (ParameterManifest Manifest, byte[] Data) Parameters(ParameterManifest? model)
    {
        var manifest = new ParameterManifest();
        if (model is not null) manifest.Tensors.AddRange(model.Tensors.Select(t => t.Clone()));
        else manifest.Tensors.Add(new TensorSpec { Name = "weights", Dtype = DType.Float32, Shape = { 4 } });
        long total = manifest.Tensors.Sum(t => t.Shape.Aggregate(1L, (a, d) => a * d) * (t.Dtype is DType.Float64 or DType.Int64 ? 8 : 4));
        var data = new byte[Math.Min(total, 1 << 20)];
        // Finite float values: zero bytes are 0.0 in every dtype.
        manifest.TotalBytes = data.Length;
        manifest.Sha256 = ByteString.CopyFrom(SHA256.HashData(data));
        return (manifest, data);
    }

    private void Mutate(List<ResultMessage> messages, ResultHeader header, ParameterManifest manifest)
    {
        switch (Random.Next(12))
        {
            case 0: header.Examples = Number(10); break;
            case 1: header.Loss = ExtremeDoubles[Random.Next(ExtremeDoubles.Length)]; break;
            case 2: header.Ok = !header.Ok; header.Error = Text("boom"); break;
            case 3: header.NodeName = Text("someone-else"); break;
            case 4:
                for (int k = Random.Next(1, 50); k > 0; k--) header.Metrics[Text("m" + k)] = new Scalar { DoubleValue = ExtremeDoubles[Random.Next(ExtremeDoubles.Length)] };
                break;
            case 5 when manifest.Tensors.Count > 0:
                var t = manifest.Tensors[Random.Next(manifest.Tensors.Count)];
                if (t.Shape.Count > 0) t.Shape[Random.Next(t.Shape.Count)] = Number(t.Shape[0]);
                else t.Shape.Add(Number(1));
                break;
            case 6 when manifest.Tensors.Count > 0:
                manifest.Tensors[Random.Next(manifest.Tensors.Count)].Dtype = (DType)Random.Next(-2, 8);
                break;
            case 7: manifest.TotalBytes = Number(manifest.TotalBytes); break;
            case 8:
                manifest.Sha256 = ByteString.CopyFrom(Enumerable.Range(0, Random.Next(0, 40)).Select(_ => (byte)Random.Next(256)).ToArray());
                break;
            case 9 when messages.Count > 2:
                // Reorder, drop or repeat a message.
                int i = Random.Next(1, messages.Count), j = Random.Next(1, messages.Count);
                switch (Random.Next(3))
                {
                    case 0: (messages[i], messages[j]) = (messages[j], messages[i]); break;
                    case 1: messages.RemoveAt(i); break;
                    default: messages.Insert(j, messages[i].Clone()); break;
                }
                break;
            case 10 when messages.Count > 2 && messages[^1].BodyCase == ResultMessage.BodyOneofCase.Chunk:
                var chunk = messages[^1].Chunk;
                chunk.Offset = Number(chunk.Offset);
                if (Random.Next(2) == 0) chunk.Data = ByteString.CopyFrom(new byte[Random.Next(0, 70_000)]);
                break;
            case 11: manifest.Tensors.Add(new TensorSpec { Name = Text("weights"), Dtype = DType.Float32, Shape = { Number(2) } }); break;
            default: header.TaskId = Text("not-a-task"); break;
        }
    }
}
