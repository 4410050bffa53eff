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
/// FedAvg paper's 2NN and CNN at batch 10 and 50, beside PyTorch on the same models and batches run
/// in the same command, so the ratio compares like with like on a noisy shared machine.
/// </summary>
public static class TrainBench
{
    private static readonly (string Model, int Batch)[] Cases = [("2nn", 10), ("2nn", 50), ("cnn", 10), ("cnn", 50)];

    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Seconds per repetition", DefaultValueFactory = _ => 1.0 };
        var repeats = new Option<int>("--repeats") { Description = "Timed repetitions per case (median reported)", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { Description = "Threads for Cohort's engine (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var torchThreads = new Option<int>("--torch-threads") { Description = "torch.set_num_threads for PyTorch", DefaultValueFactory = _ => 2 };
        var noTorch = new Option<bool>("--no-torch") { Description = "Measure Cohort only" };
        var models = new Option<string>("--models") { Description = "Comma-separated models to run (2nn, cnn)", DefaultValueFactory = _ => "2nn,cnn" };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("train", "Training samples/s of the FedAvg 2NN and CNN at batch 10 and 50, Cohort beside PyTorch")
        {
            seconds, repeats, threads, torchThreads, noTorch, models, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            double secs = pr.GetValue(seconds);
            int reps = pr.GetValue(repeats), workers = pr.GetValue(threads);
            var wanted = pr.GetValue(models)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var m in wanted)
                if (!FedAvgNetworks.Names.Contains(m)) throw new CliException($"--models: unknown model '{m}'; known: {string.Join(", ", FedAvgNetworks.Names)}");
            var cases = Cases.Where(c => wanted.Contains(c.Model)).ToArray();
            var figures = new JsonObject
            {
                ["machine"] = Machine.Describe(),
                ["kernel"] = Learning.Nn.Kernels.MicroKernelInfo.Describe(),
                ["threads"] = workers,
                ["torch_threads"] = pr.GetValue(torchThreads),
            };
            Console.WriteLine($"# machine: {Machine.Describe()}; GEMM kernel {Learning.Nn.Kernels.MicroKernelInfo.Describe()}; Cohort threads {workers}; load average {LoadAverage()}");
            figures["load_average_at_start"] = LoadAverage();

            Dictionary<string, double>? torch = null;
            if (!pr.GetValue(noTorch))
                torch = await TorchAsync(cases, secs, reps, pr.GetValue(torchThreads), ct);

            foreach (var (model, batch) in cases)
            {
                var (median, low, high, bytes) = MeasureCohort(model, batch, workers, secs, reps, ct);
                string prefix = $"train.{model}.b{batch}";
                Print(figures, $"{prefix}.samples_per_s", median);
                Print(figures, $"{prefix}.samples_per_s.min", low);
                Print(figures, $"{prefix}.samples_per_s.max", high);
                Print(figures, $"{prefix}.allocated_bytes_per_step", bytes);
                if (torch is not null && torch.TryGetValue(prefix, out double t))
                {
                    Print(figures, $"{prefix}.torch_samples_per_s", t);
                    Print(figures, $"{prefix}.ratio", median / t);
                }
            }
            if (pr.GetValue(json) is { } file)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
                await File.WriteAllTextAsync(file, figures.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct);
            }
            return 0;
        });
        return command;
    }

    /// <summary>Median, min and max samples/s of full SGD steps on seeded random images, and bytes allocated per step (all threads).</summary>
    private static (double Median, double Min, double Max, double BytesPerStep) MeasureCohort(string model, int batch, int threads, double seconds, int repeats, CancellationToken ct)
    {
        var network = FedAvgNetworks.Create(model);
        network.Threads = threads;
        network.Initialize(1, WeightInit.Torch);
        var sgd = new Sgd(network.ParameterCount, learningRate: 0.01);
        var random = new Random(3);
        var x = new float[batch * network.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = (float)random.NextDouble();
        var labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = random.Next(10);

        void Step()
        {
            var logits = network.Forward(x, batch, training: true);
            var grad = network.OutputGradientBuffer(batch);
            SoftmaxCrossEntropy.Compute(logits, 10, labels, grad, out _);
            network.Backward(grad, batch);
            sgd.Step(network.Weights, network.Gradients);
        }

        // Warm up (JIT tiers, buffers, thread pool) for a repetition's length, then time repetitions.
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed.TotalSeconds < seconds) Step();
        var rates = new double[repeats];
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true), totalSteps = 0;
        for (int r = 0; r < repeats; r++)
        {
            ct.ThrowIfCancellationRequested();
            int steps = 0;
            watch.Restart();
            while (watch.Elapsed.TotalSeconds < seconds)
            {
                Step();
                steps++;
            }
            rates[r] = steps * batch / watch.Elapsed.TotalSeconds;
            totalSteps += steps;
        }
        double bytesPerStep = (double)(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / Math.Max(1, totalSteps);
        Array.Sort(rates);
        return (rates[repeats / 2], rates[0], rates[^1], bytesPerStep);
    }

    private static async Task<Dictionary<string, double>?> TorchAsync((string Model, int Batch)[] cases, double seconds, int repeats, int threads, CancellationToken ct)
    {
        // Debian's python3-torch installs for the system interpreter, which a pyenv shim on PATH would hide.
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        if (await RunAsync(python, ["-c", "import torch"], ct) != 0)
        {
            Console.WriteLine("# PyTorch not found: apt-get install -y python3-torch");
            if (await RunAsync("apt-get", ["install", "-y", "-q", "python3-torch"], ct) != 0 || await RunAsync(python, ["-c", "import torch"], ct) != 0)
            {
                Console.WriteLine("# PyTorch unavailable; reporting Cohort only");
                return null;
            }
        }
        string script = Path.Combine(Path.GetTempPath(), $"cohort-bench-train-{Environment.ProcessId}.py");
        await File.WriteAllTextAsync(script, TorchScript, ct);
        try
        {
            var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, UseShellExecute = false };
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
            psi.ArgumentList.Add(seconds.ToString(CultureInfo.InvariantCulture));
            psi.ArgumentList.Add(repeats.ToString(CultureInfo.InvariantCulture));
            foreach (var (model, batch) in cases) psi.ArgumentList.Add($"{model}:{batch}");
            using var process = Process.Start(psi)!;
            var results = new Dictionary<string, double>(StringComparer.Ordinal);
            while (await process.StandardOutput.ReadLineAsync(ct) is { } line)
            {
                var parts = line.Split(' ');
                if (parts.Length == 2 && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) results[parts[0]] = v;
                else Console.WriteLine($"# torch: {line}");
            }
            await process.WaitForExitAsync(ct);
            return process.ExitCode == 0 ? results : null;
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static async Task<int> RunAsync(string file, string[] args, CancellationToken ct)
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

    // Other processes on a shared machine move every figure; the 1-minute load average says how busy it was.
    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static void Print(JsonObject figures, string name, double value)
    {
        Console.WriteLine($"{name} {value.ToString("0.###", CultureInfo.InvariantCulture)}");
        figures[name] = Math.Round(value, 3);
    }

    // The same networks, loss, optimiser and step as MeasureCohort, timed the same way.
    private const string TorchScript = """
        import sys, time, statistics
        import torch
        import torch.nn as nn
        threads, seconds, repeats = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
        torch.set_num_threads(threads)
        torch.manual_seed(1)
        def two_nn():
            return nn.Sequential(nn.Flatten(), nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10))
        def cnn():
            return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                 nn.Linear(3136, 512), nn.ReLU(), nn.Linear(512, 10))
        print("# torch", torch.__version__, "threads", torch.get_num_threads())
        for case in sys.argv[4:]:
            name, batch = case.split(":")
            batch = int(batch)
            model = two_nn() if name == "2nn" else cnn()
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            loss_fn = nn.CrossEntropyLoss()
            x = torch.rand(batch, 1, 28, 28)
            y = torch.randint(0, 10, (batch,))
            def step():
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                step()
            rates = []
            for _ in range(repeats):
                steps = 0
                start = time.perf_counter()
                while time.perf_counter() - start < seconds:
                    step()
                    steps += 1
                rates.append(steps * batch / (time.perf_counter() - start))
            print(f"train.{name}.b{batch} {statistics.median(rates):.3f}", flush=True)
        """;
}
