using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench aggregate</c>: server-side aggregation throughput of each built-in strategy on N
/// random float32 updates, in GB/s of update bytes read, beside a plain memory read
/// (TensorPrimitives.Sum) of the same bytes measured in the same process.
/// </summary>
internal static class AggregateBench
{
    private static readonly (string Name, (string Key, Scalar Value)[] Params)[] Strategies =
    [
        ("fedavg", []), ("fedavgm", []), ("fedadam", []), ("fedyogi", []), ("fedadagrad", []), ("qfedavg", []),
        ("fedmedian", []), ("fedtrimmedavg", []), ("krum", [("byzantine", 2)]), ("bulyan", [("byzantine", 1)]),
    ];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Updates per aggregation", DefaultValueFactory = _ => 10 };
        var values = new Option<int>("--values") { Description = "Model size in float32 values", DefaultValueFactory = _ => 2_000_000 };
        var repeats = new Option<int>("--repeats") { Description = "Timed repetitions (median reported)", DefaultValueFactory = _ => 5 };
        var warmUp = new Option<int>("--warm-up") { Description = "Untimed passes over every strategy before timing", DefaultValueFactory = _ => 3 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("aggregate", "Aggregation throughput of every built-in strategy against a memory read of the same bytes") { nodes, values, repeats, warmUp, json };
        command.SetAction(async (pr, ct) =>
        {
            int n = pr.GetValue(nodes), size = pr.GetValue(values), r = pr.GetValue(repeats);
            if (n < 1 || size < 1 || r < 1 || pr.GetValue(warmUp) < 1) throw new CliException("--nodes, --values, --repeats and --warm-up must be at least 1");
            var figures = BenchFigures.Begin(new JsonObject { ["nodes"] = n, ["values"] = size, ["repeats"] = r, ["warm_up_passes"] = pr.GetValue(warmUp) });
            var random = new Random(1);
            var global = Model(random, size, 0);
            var results = Enumerable.Range(0, n).Select(_ => new FitResult(Model(random, size, 0.01f),
                100, new Metrics([KeyValuePair.Create("initial_train_loss", Scalar.Of(0.7))]))).ToArray();
            double gigabytes = (double)n * size * sizeof(float) / 1e9;

            var round = new RoundContext("bench", 1, 1, new Selection(), new Config([KeyValuePair.Create("learning_rate", Scalar.Of(0.1))]), Config.Empty, new Random(1));
            var measured = new List<(string Name, Action Run)>
            {
                ("memread", () =>
                {
                    float s = 0;
                    foreach (var x in results) s += TensorPrimitives.Sum<float>(x.Parameters[0].AsFloat32());
                    GC.KeepAlive(s);
                }),
            };
            foreach (var (name, parameters) in Strategies)
            {
                var strategy = StrategyRegistry.CreateDefault().Create(name, new Config(parameters.Select(p => KeyValuePair.Create(p.Key, p.Value))), StrategyServices.None);
                measured.Add((name, () => Aggregate(strategy, round, global, results)));
            }
            // FedAdam with its two moments in a scratch file (as past StrategyServices.StateOnDiskBytes on a server), read and
            // written a window at a time: what keeping them out of memory costs against "fedadam" above.
            string stateFolder = BenchFigures.FreshFolder("bench-aggregate-state");
            var onDisk = new FedAdam(Config.Empty, new StrategyServices { StateOnDiskBytes = 0, SpillFolder = stateFolder });
            measured.Add(("fedadam_moments_on_disk", () => Aggregate(onDisk, round, global, results)));
            // FedAvg folding all pending results tile by tile (the server's aggregation buffer) instead of one at a time.
            var batched = new FedAvg(new StrategyServices(AggregationBufferBytes: long.MaxValue));
            measured.Add(("fedavg_batched", () => Aggregate(batched, round, global, results)));
            // The float32 running sum in arrival order that FedAvg used before its sum became reproducible: the baseline it must not fall below.
            measured.Add(("fedavg_arrival_order_batched", () =>
            {
                var sum = new ArrivalOrderSum(size);
                sum.AddRange(results);
                GC.KeepAlive(sum.Mean());
            }
            ));

            var seconds = Interleaved(measured, pr.GetValue(warmUp), r);
            double read = seconds["memread"];
            Print(figures, "aggregate.memread.gbps", gigabytes / read);
            foreach (var (name, _) in measured.Skip(1))
            {
                Print(figures, $"aggregate.{name}.gbps", gigabytes / seconds[name]);
                Print(figures, $"aggregate.{name}.ratio_to_memread", read / seconds[name]);
            }
            double batchedSeconds = seconds["fedavg_batched"], arrivalSeconds = seconds["fedavg_arrival_order_batched"];
            Print(figures, "aggregate.fedavg_batched.speed_vs_arrival_order", arrivalSeconds / batchedSeconds);
            if (pr.GetValue(json) is { } file)
            {
                await BenchFigures.SaveAsync(figures, file, ct);
            }
            return 0;
        });
        return command;
    }

    private static ParameterSet Model(Random random, int size, float scale)
    {
        var values = new float[size];
        for (int i = 0; i < size; i++) values[i] = (float)(random.NextDouble() - 0.5) * (scale == 0 ? 1 : scale) + (scale == 0 ? 0 : 1);
        return new ParameterSet([Cohort.Parameters.Tensor.FromFloat32("w", [size], values)]);
    }

    private static void Aggregate(IStrategy strategy, RoundContext round, ParameterSet global, FitResult[] results)
    {
        using var aggregation = strategy.BeginAggregateFit(round, global);
        for (int i = 0; i < results.Length; i++) aggregation.Add($"n{i}", results[i]);
        GC.KeepAlive(aggregation.Complete([]));
    }

    /// <summary>
    /// Median seconds of each action. Every action first runs <paramref name="warmUp"/> untimed passes
    /// (all of them, in turn), so none is timed on code the JIT has not yet optimised while the others
    /// ride on its warm-up; then the timed passes run every action once each, starting one further
    /// along each pass, so neither load drift nor position favours one.
    /// </summary>
    private static Dictionary<string, double> Interleaved(IReadOnlyList<(string Name, Action Run)> actions, int warmUp, int repeats)
    {
        for (int pass = 0; pass < warmUp; pass++)
        {
            foreach (var (_, run) in actions) run();
        }
        var times = actions.ToDictionary(a => a.Name, _ => new double[repeats]);
        for (int pass = 0; pass < repeats; pass++)
        {
            for (int k = 0; k < actions.Count; k++)
            {
                var (name, run) = actions[(pass + k) % actions.Count];
                var clock = Stopwatch.StartNew();
                run();
                times[name][pass] = clock.Elapsed.TotalSeconds;
            }
        }
        return times.ToDictionary(t => t.Key, t =>
        {
            Array.Sort(t.Value);
            return t.Value[repeats / 2];
        });
    }

    /// <summary>Example-weighted float32 sum folded in arrival order, tile by tile over all results: not reproducible across orders.</summary>
    private sealed class ArrivalOrderSum(long values)
    {
        private const int Tile = 64 << 10;
        private readonly float[] _sum = new float[values];
        private long _examples;

        public void AddRange(IReadOnlyList<FitResult> results)
        {
            for (int start = 0; start < _sum.Length; start += Tile)
            {
                int n = Math.Min(Tile, _sum.Length - start);
                var a = _sum.AsSpan(start, n);
                foreach (var r in results) TensorPrimitives.MultiplyAdd(r.Parameters[0].AsFloat32().Slice(start, n), r.Examples, a, a);
            }
            foreach (var r in results) _examples += r.Examples;
        }

        public float[] Mean()
        {
            TensorPrimitives.Multiply(_sum, (float)(1.0 / _examples), _sum);
            return _sum;
        }
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
