using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Learning.Nn;
using Cohort.Learning.Nn.Losses;
using Cohort.Learning.Optimizers;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench train</c>: training throughput (samples/s of forward + backward + SGD step) of the
/// FedAvg paper's 2NN and CNN at batch 10, 50 and 100, beside PyTorch on the same models and batches run
/// in the same command, so the ratio compares like with like on a noisy shared machine. Each side
/// also reports samples per CPU-second of its own process: on a machine loaded beyond its cores the
/// wall-clock figures mostly measure how much of a core each side was given (printed as cpu_share),
/// while the CPU-time ratio stays close to the work each engine does.
/// </summary>
internal static class TrainBench
{
    private static readonly (string Model, int Batch)[] Cases = [("2nn", 10), ("2nn", 50), ("2nn", 100), ("cnn", 10), ("cnn", 50), ("cnn", 100)];

    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Seconds per repetition", DefaultValueFactory = _ => 1.0 };
        var repeats = new Option<int>("--repeats") { Description = "Timed repetitions per case (median reported)", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { Description = "Threads for Cohort's engine", DefaultValueFactory = _ => 1 };
        var torchThreads = new Option<int>("--torch-threads") { Description = "PyTorch's threads: torch.set_num_threads, OMP_NUM_THREADS and OPENBLAS_NUM_THREADS", DefaultValueFactory = _ => 1 };
        var noTorch = new Option<bool>("--no-torch") { Description = "Measure Cohort only" };
        var models = new Option<string>("--models") { Description = "Comma-separated models to run (2nn, cnn)", DefaultValueFactory = _ => "2nn,cnn" };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var profile = new Option<bool>("--profile") { Description = "Also print the share of step time spent in each layer" };
        var oneDnn = new Option<bool>("--torch-onednn") { Description = "Let PyTorch run convolutions on oneDNN (torch.backends.mkldnn.enabled); false measures its own im2col path", DefaultValueFactory = _ => true };
        var command = new Command("train", "Training samples/s of the FedAvg 2NN and CNN at batch 10, 50 and 100, Cohort beside PyTorch (one thread each by default)")
        {
            seconds, repeats, threads, torchThreads, noTorch, models, json, profile, oneDnn,
        };
        command.SetAction(async (pr, ct) =>
        {
            double secs = pr.GetValue(seconds);
            int reps = pr.GetValue(repeats), workers = pr.GetValue(threads);
            var wanted = pr.GetValue(models)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var m in wanted)
                if (!FedAvgNetworks.Names.Contains(m)) throw new CliException($"--models: unknown model '{m}'; known: {string.Join(", ", FedAvgNetworks.Names)}");
            var cases = Cases.Where(c => wanted.Contains(c.Model)).ToArray();
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["kernel"] = Learning.Nn.Kernels.MicroKernelInfo.Describe(),
                ["threads"] = workers,
                ["torch_threads"] = pr.GetValue(torchThreads),
                ["torch_onednn"] = pr.GetValue(oneDnn),
            });
            Console.WriteLine($"# GEMM kernel {Learning.Nn.Kernels.MicroKernelInfo.Describe()}; Cohort threads {workers}");

            await using var torch = pr.GetValue(noTorch) ? null : await TorchSession.StartAsync(pr.GetValue(torchThreads), pr.GetValue(oneDnn), ct);
            if (torch is not null)
            {
                // What PyTorch runs on: its version, build configuration and the BLAS mapped into its process.
                foreach (var (key, value) in torch.Banner.ToArray())
                {
                    torch.Banner.Remove(key);
                    figures[$"torch_{key}"] = value;
                }
            }
            foreach (var (model, batch) in cases)
            {
                // Repetitions alternate between the engines, so a change in the machine's load hits both alike.
                var cohort = new CohortCase(model, batch, workers);
                // Warm up past the JIT's tiering (a few dozen calls of every kernel), then time.
                for (int warm = 0; warm < 60;) warm += cohort.Run(secs).Steps;
                if (torch is not null) await torch.RunAsync(model, batch, secs, ct);
                var ours = new double[reps];
                var oursCpu = new double[reps];
                var theirs = new double[torch is null ? 0 : reps];
                var theirsCpu = new double[torch is null ? 0 : reps];
                long allocated = 0, steps = 0;
                cohort.Network.Timing = pr.GetValue(profile);
                for (int r = 0; r < reps; r++)
                {
                    ct.ThrowIfCancellationRequested();
                    // Alternate which side goes first, so neither always runs right after the other's burst.
                    if (torch is not null && r % 2 == 1) (theirs[r], theirsCpu[r]) = await torch.RunAsync(model, batch, secs, ct);
                    long before = GC.GetTotalAllocatedBytes(precise: true);
                    (ours[r], int taken, oursCpu[r]) = cohort.Run(secs);
                    allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
                    steps += taken;
                    if (torch is not null && r % 2 == 0) (theirs[r], theirsCpu[r]) = await torch.RunAsync(model, batch, secs, ct);
                }
                double bytes = (double)allocated / Math.Max(1, steps);
                if (pr.GetValue(profile)) PrintProfile(cohort.Network, $"{model}.b{batch}");
                // Share of one core each side got while timed (per repeat, before the arrays are sorted).
                double share = Median(ours.Zip(oursCpu, (w, c) => c > 0 ? w / c : double.NaN).ToArray());
                double torchShare = torch is null ? double.NaN : Median(theirs.Zip(theirsCpu, (w, c) => c > 0 ? w / c : double.NaN).ToArray());
                Array.Sort(ours);
                Array.Sort(oursCpu);
                string prefix = $"train.{model}.b{batch}";
                Print(figures, $"{prefix}.samples_per_s", ours[reps / 2]);
                Print(figures, $"{prefix}.samples_per_s.min", ours[0]);
                Print(figures, $"{prefix}.samples_per_s.max", ours[^1]);
                Print(figures, $"{prefix}.allocated_bytes_per_step", bytes);
                BenchFigures.PrintValues(figures, $"{prefix}.samples_per_s.repeats", ours, 1);
                Print(figures, $"{prefix}.samples_per_cpu_s", oursCpu[reps / 2]);
                BenchFigures.PrintValues(figures, $"{prefix}.samples_per_cpu_s.repeats", oursCpu, 1);
                Print(figures, $"{prefix}.cpu_share", share);
                figures[$"{prefix}.load_average"] = BenchFigures.LoadAverage();
                if (torch is not null)
                {
                    Array.Sort(theirs);
                    Array.Sort(theirsCpu);
                    Print(figures, $"{prefix}.torch_samples_per_s", theirs[reps / 2]);
                    Print(figures, $"{prefix}.torch_samples_per_s.min", theirs[0]);
                    Print(figures, $"{prefix}.torch_samples_per_s.max", theirs[^1]);
                    Print(figures, $"{prefix}.ratio", ours[reps / 2] / theirs[reps / 2]);
                    BenchFigures.PrintValues(figures, $"{prefix}.torch_samples_per_s.repeats", theirs, 1);
                    Print(figures, $"{prefix}.torch_samples_per_cpu_s", theirsCpu[reps / 2]);
                    BenchFigures.PrintValues(figures, $"{prefix}.torch_samples_per_cpu_s.repeats", theirsCpu, 1);
                    Print(figures, $"{prefix}.torch_cpu_share", torchShare);
                    Print(figures, $"{prefix}.ratio_cpu", oursCpu[reps / 2] / theirsCpu[reps / 2]);
                }
            }
            if (pr.GetValue(json) is { } file)
            {
                await BenchFigures.SaveAsync(figures, file, ct);
            }
            return 0;
        });
        return command;
    }

    private static double Median(double[] values)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    private static void PrintProfile(Sequential network, string name)
    {
        var times = network.LayerTimes();
        double total = times.Sum(t => t.Forward + t.Backward);
        foreach (var (layer, f, b) in times)
            Console.WriteLine($"# {name} {layer,-8} forward {100 * f / total,5:0.0}%  backward {100 * b / total,5:0.0}%");
    }

    /// <summary>One model and batch on Cohort's engine: full SGD steps on seeded random images.</summary>
    private sealed class CohortCase
    {
        private readonly int _batch;
        private readonly Sgd _sgd;
        private readonly float[] _x;
        private readonly int[] _labels;

        public CohortCase(string model, int batch, int threads)
        {
            _batch = batch;
            Network = FedAvgNetworks.Create(model);
            Network.Threads = threads;
            Network.Initialize(1, WeightInit.Torch);
            _sgd = new Sgd(Network.ParameterCount, learningRate: 0.01);
            var random = new Random(3);
            _x = new float[batch * Network.InputSize];
            for (int i = 0; i < _x.Length; i++) _x[i] = (float)random.NextDouble();
            _labels = new int[batch];
            for (int i = 0; i < batch; i++) _labels[i] = random.Next(10);
        }

        public Sequential Network { get; }

        /// <summary>Steps for <paramref name="seconds"/>; returns samples per wall-clock second, the steps taken and samples per CPU-second of this process.</summary>
        public (double SamplesPerSecond, int Steps, double SamplesPerCpuSecond) Run(double seconds)
        {
            int steps = 0;
            var cpu = Environment.CpuUsage.TotalTime;
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed.TotalSeconds < seconds)
            {
                var logits = Network.Forward(_x, _batch, training: true);
                var grad = Network.OutputGradientBuffer(_batch);
                SoftmaxCrossEntropy.Compute(logits, 10, _labels, grad, out _);
                Network.Backward(grad, _batch);
                _sgd.Step(Network.Weights, Network.Gradients);
                steps++;
            }
            double wall = watch.Elapsed.TotalSeconds, used = (Environment.CpuUsage.TotalTime - cpu).TotalSeconds;
            return (steps * _batch / wall, steps, used > 0 ? steps * _batch / used : double.NaN);
        }
    }

    /// <summary>A PyTorch process that times one repetition per request line ("model batch seconds").</summary>
    private sealed class TorchSession : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _script;

        private TorchSession(Process process, string script, JsonObject banner)
        {
            _process = process;
            _script = script;
            Banner = banner;
        }

        /// <summary>PyTorch's version, threads, build configuration and the BLAS libraries in its address space.</summary>
        public JsonObject Banner { get; }

        public static async Task<TorchSession?> StartAsync(int threads, bool oneDnn, CancellationToken ct)
        {
            // Debian's python3-torch installs for the system interpreter, which a pyenv shim on PATH would hide.
            string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
            if (await RunProcessAsync(python, ["-c", "import torch"], ct) != 0)
            {
                Console.WriteLine("# PyTorch not found: apt-get install -y python3-torch");
                if (await RunProcessAsync("apt-get", ["install", "-y", "-q", "python3-torch"], ct) != 0 || await RunProcessAsync(python, ["-c", "import torch"], ct) != 0)
                {
                    Console.WriteLine("# PyTorch unavailable; reporting Cohort only");
                    return null;
                }
            }
            string script = Path.Combine(Path.GetTempPath(), $"cohort-bench-train-{Environment.ProcessId}.py");
            await File.WriteAllTextAsync(script, TorchScript, ct);
            var psi = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
            psi.ArgumentList.Add(oneDnn ? "1" : "0");
            string count = threads.ToString(CultureInfo.InvariantCulture);
            psi.Environment["OMP_NUM_THREADS"] = count;
            psi.Environment["OPENBLAS_NUM_THREADS"] = count;
            psi.Environment["MKL_NUM_THREADS"] = count;
            var process = Process.Start(psi)!;
            string banner = await process.StandardOutput.ReadLineAsync(ct) ?? throw new CliException("the PyTorch benchmark process ended before reporting its configuration");
            var info = JsonNode.Parse(banner)!.AsObject();
            Console.WriteLine($"# torch {info["version"]}, threads {info["threads"]}, oneDNN {info["onednn"]}, BLAS {info["blas"]?.ToJsonString()}");
            return new TorchSession(process, script, info);
        }

        /// <summary>One timed repetition: samples per wall-clock second and per CPU-second of the PyTorch process.</summary>
        public async Task<(double Wall, double Cpu)> RunAsync(string model, int batch, double seconds, CancellationToken ct)
        {
            await _process.StandardInput.WriteLineAsync($"{model} {batch} {seconds.ToString(CultureInfo.InvariantCulture)}".AsMemory(), ct);
            await _process.StandardInput.FlushAsync(ct);
            string line = await _process.StandardOutput.ReadLineAsync(ct) ?? throw new CliException("the PyTorch benchmark process ended early");
            var parts = line.Split(' ');
            return (double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture));
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                _process.StandardInput.Close();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                _process.Kill();
            }
            _process.Dispose();
            File.Delete(_script);
        }
    }

    private static async Task<int> RunProcessAsync(string file, string[] args, CancellationToken ct)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var drainOut = p.StandardOutput.ReadToEndAsync(ct);
            var drainErr = p.StandardError.ReadToEndAsync(ct);
            await p.WaitForExitAsync(ct);
            await Task.WhenAll(drainOut, drainErr);
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);

    // The same networks, loss, optimiser and step as CohortCase, timed the same way, one request per line.
    private const string TorchScript = """
        import sys, time
        import torch
        import torch.nn as nn
        torch.set_num_threads(int(sys.argv[1]))
        torch.backends.mkldnn.enabled = sys.argv[2] == "1"
        torch.manual_seed(1)
        def two_nn():
            return nn.Sequential(nn.Flatten(), nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10))
        def cnn():
            return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                 nn.Linear(3136, 512), nn.ReLU(), nn.Linear(512, 10))
        import json
        torch.ones(64, 64) @ torch.ones(64, 64)  # maps the BLAS library before it is looked up
        blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and "/" in l})
        print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads(), "blas": blas, "onednn": torch.backends.mkldnn.enabled,
                          "config": torch.__config__.show(), "parallel_info": torch.__config__.parallel_info()}), flush=True)
        cases = {}
        for line in sys.stdin:
            name, batch, seconds = line.split()
            batch, seconds = int(batch), float(seconds)
            if (name, batch) not in cases:
                model = two_nn() if name == "2nn" else cnn()
                opt = torch.optim.SGD(model.parameters(), lr=0.01)
                cases[(name, batch)] = (model, opt, torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,)))
            model, opt, x, y = cases[(name, batch)]
            loss_fn = nn.CrossEntropyLoss()
            steps = 0
            cpu = time.process_time()
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()
                steps += 1
            wall, used = time.perf_counter() - start, time.process_time() - cpu
            print(f"{steps * batch / wall:.3f} {steps * batch / used if used > 0 else float('nan'):.3f}", flush=True)
        """;
}
