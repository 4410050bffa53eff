using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Cli.Demo;
using Cohort.Server.State;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort bench …</c>: benchmarks that print machine-readable figures.</summary>
public static class BenchCommand
{
    /// <summary>Builds the command group.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks (figures as 'name value' lines; --json writes bench/results)");
        bench.Subcommands.Add(RoundOverheadBench.Create());
        bench.Subcommands.Add(FlambyBench.Create());
        bench.Subcommands.Add(FedBuffBench.Create());
        bench.Subcommands.Add(AggregateBench.Create());
        bench.Subcommands.Add(DashboardBench.Create());
        bench.Subcommands.Add(SimulationBench.Create());
        bench.Subcommands.Add(FedAvgPaperBench.Create());
        bench.Subcommands.Add(TrainBench.Create());
        return bench;
    }
}

/// <summary>The machine a figure was measured on.</summary>
public static class Machine
{
    /// <summary>Cores, CPU model and SIMD width.</summary>
    public static string Describe()
    {
        string model = "unknown CPU";
        try
        {
            model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? model;
        }
        catch (IOException)
        {
        }
        string simd = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "128-bit";
        return $"{Environment.ProcessorCount} cores, {model}, {simd}";
    }
}
