using Cohort.Apps;
using Cohort.Simulation.Partitioners;
using Cohort.Strategies;

namespace Cohort.Simulation;

/// <summary>Settings of one <see cref="SimulationRunner"/> run.</summary>
public sealed record SimulationOptions
{
    /// <summary>Data folder for the state database (<c>cohort.db</c>) and model store (<c>models/</c>), the layout a server reads.</summary>
    public required string DataDir { get; init; }

    /// <summary>The plan file's name, for errors.</summary>
    public string PlanSource { get; init; } = "plan";

    /// <summary>Folder relative data paths are resolved against (the plan's folder).</summary>
    public string BaseDirectory { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>Client app factories to choose from by the plan's app name.</summary>
    public IReadOnlyList<IClientAppFactory> Apps { get; init; } = BuiltInApps.Factories();

    /// <summary>Strategies a plan may name.</summary>
    public StrategyRegistry Strategies { get; init; } = StrategyRegistry.CreateDefault();

    /// <summary>Partitioners a plan may name.</summary>
    public PartitionerRegistry Partitioners { get; init; } = PartitionerRegistry.CreateDefault();

    /// <summary>Where the partition summary and histograms are written; null for silence.</summary>
    public TextWriter? Log { get; init; }

    /// <summary>Called after each round with the round and its per-client results.</summary>
    public Func<Engine.State.RoundRecord, IReadOnlyList<Engine.State.NodeResultRecord>, Task>? OnRound { get; init; }

    /// <summary>Called with a virtual client's name and what its app threw (the round records only the message), from any worker.</summary>
    public Action<string, Exception>? OnAppFault { get; init; }
}
