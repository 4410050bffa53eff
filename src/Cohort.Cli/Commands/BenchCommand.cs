using System.CommandLine;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort bench …</c>: benchmarks that print machine-readable figures.</summary>
internal static class BenchCommand
{
    /// <summary>Builds the command group.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks (figures as 'name value' lines; --json writes bench/results)");
        bench.Subcommands.Add(RoundOverheadBench.Create());
        bench.Subcommands.Add(RoundFloorBench.Create());
        bench.Subcommands.Add(BigModelBench.Create());
        bench.Subcommands.Add(SpillBench.Create());
        bench.Subcommands.Add(FlambyBench.Create());
        bench.Subcommands.Add(FedBuffBench.Create());
        bench.Subcommands.Add(AggregateBench.Create());
        bench.Subcommands.Add(DashboardBench.Create());
        bench.Subcommands.Add(SimulationBench.Create());
        bench.Subcommands.Add(FedAvgPaperBench.Create());
        bench.Subcommands.Add(TrainBench.Create());
        bench.Subcommands.Add(FuzzBench.Create());
        bench.Subcommands.Add(FraudBench.Create());
        bench.Subcommands.Add(ByzantineBench.Create());
        bench.Subcommands.Add(AuditBench.Create());
        bench.Subcommands.Add(ResumeBench.Create());
        bench.Subcommands.Add(SoakBench.Create());
        bench.Subcommands.Add(ReconnectBench.Create());
        bench.Subcommands.Add(LongRunBench.Create());
        bench.Subcommands.Add(MemoryAttackBench.Create());
        return bench;
    }
}
