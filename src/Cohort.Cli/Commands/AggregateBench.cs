using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort bench aggregate</c>: FedAvg aggregation throughput against a plain memory read of the same bytes.</summary>
public static class AggregateBench
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var updates = new Option<int>("--updates") { Description = "Number of client updates", DefaultValueFactory = _ => 10 };
        var values = new Option<int>("--values") { Description = "float32 values per update", DefaultValueFactory = _ => 10_000_000 };
        var repeats = new Option<int>("--repeats") { Description = "Measured repetitions (after one warm-up)", DefaultValueFactory = _ => 5 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("aggregate", "FedAvg aggregation throughput (GB/s of updates read) beside a memory read of the same bytes, in one run")
        {
            updates, values, repeats, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int k = pr.GetValue(updates), n = pr.GetValue(values), reps = pr.GetValue(repeats);
            var random = new Random(7);
            var results = Enumerable.Range(0, k).Select(i =>
            {
                var t = Tensor.Zeros("w", DType.Float32, [n]);
                var span = t.AsFloat32();
                // Every page written: untouched pages would all map to the kernel's shared zero page and read from cache.
                span.Fill((float)random.NextDouble());
                return new FitResult(new ParameterSet([t]), 10 + i, Metrics.Empty);
            }).ToArray();
            var global = new ParameterSet([Tensor.Zeros("w", DType.Float32, [n])]);
            double bytes = (double)k * n * sizeof(float);
            var context = new RoundContext("bench", 1, 1, new Selection(), Config.Empty, Config.Empty, new Random(1));

            double memRead = Measure(reps, () =>
            {
                float s = 0;
                foreach (var r in results) s += TensorPrimitives.Sum<float>(r.Parameters[0].AsFloat32());
                GC.KeepAlive(s);
            });
            double Fold(long budget) => Measure(reps, () =>
            {
                using var aggregation = new FedAvg(new StrategyServices(AggregationBufferBytes: budget)).BeginAggregateFit(context, global);
                foreach (var r in results) aggregation.Add("node", r);
                aggregation.Complete([]);
            });
            double streaming = Fold(0);
            double batched = Fold(long.MaxValue);

            var figures = new JsonObject { ["machine"] = Machine.Describe(), ["updates"] = k, ["values"] = n };
            void Print(string name, double v)
            {
                Console.WriteLine($"{name} {v.ToString("0.###", CultureInfo.InvariantCulture)}");
                figures[name] = Math.Round(v, 3);
            }
            Print("memread.gbps", bytes / memRead / 1e9);
            Print("aggregate.fedavg.streaming.gbps", bytes / streaming / 1e9);
            Print("aggregate.fedavg.streaming.ratio_to_memread", memRead / streaming);
            Print("aggregate.fedavg.batched.gbps", bytes / batched / 1e9);
            Print("aggregate.fedavg.batched.ratio_to_memread", memRead / batched);
            Console.WriteLine($"machine {Machine.Describe()}");
            if (pr.GetValue(json) is { } file)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
                await File.WriteAllTextAsync(file, figures.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct);
            }
            return 0;
        });
        return command;
    }

    /// <summary>Median seconds of <paramref name="repeats"/> runs after one warm-up.</summary>
    private static double Measure(int repeats, Action action)
    {
        action();
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            times[i] = clock.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }
}
