using System.Collections.Concurrent;
using Cohort.Apps;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Simulation;

/// <summary>
/// Lets a deployed node work on one client's partition of a simulation plan, so a federation of real
/// processes sees exactly the data its simulation does. Node settings <c>partition.plan</c> (the plan
/// file) and <c>partition.client</c> (a client name from it) select the partition; without them the
/// app reads its own data as usual. The data set is loaded and partitioned once per process. The plan
/// is read with <paramref name="strategies"/> (the node's plugins included), the built-ins when null.
/// </summary>
internal sealed class PartitionedAppFactory(ISimulationAppFactory inner, StrategyRegistry? strategies = null) : IClientAppFactory, IValidatingClientApp, IDatasetDescriber, IStrategyLimitedApp
{
    /// <summary>Node setting naming the plan file.</summary>
    public const string PlanKey = "partition.plan";

    /// <summary>Node setting naming the client.</summary>
    public const string ClientKey = "partition.client";

    private static readonly ConcurrentDictionary<string, Lazy<SimulationRunner.Setup>> Setups = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public string Name => inner.Name;

    /// <inheritdoc />
    public IClientApp Create(ClientAppContext context)
    {
        if (!context.NodeSettings.TryGetValue(PlanKey, out var planValue)) return inner.Create(context);
        string planPath = Path.GetFullPath(planValue.ToString());
        string client = context.NodeSettings.TryGetValue(ClientKey, out var c) ? c.ToString() : context.NodeName;
        var setup = SetupOf(planPath, inner, strategies);
        int index = IndexOf(setup, client)
            ?? throw new AppConfigurationException($"node setting '{ClientKey}': '{client}' is not a client of {planPath} (clients: {string.Join(", ", setup.Names.Take(20))}{(setup.Names.Count > 20 ? ", …" : "")})");
        var partition = new DataPartition(index, setup.Partitions.Clients, setup.Dataset, setup.Partitions.Of(index));
        return inner.Create(context with { Partition = partition });
    }

    /// <summary>The inner app's preflight; a node working on a partition has its settings checked alone (the simulate preflight checks the plan's files).</summary>
    public IReadOnlyList<string> Validate(ClientAppContext context)
    {
        if (inner is not IValidatingClientApp validating) return [];
        if (!context.NodeSettings.ContainsKey(PlanKey)) return validating.Validate(context);
        var settingsOnly = context.NodeSettings.Where(kv => kv.Key != "data");
        return validating.Validate(context with { NodeSettings = new Records.Config(settingsOnly) });
    }

    /// <summary>The inner app's refusal of a strategy, partition or not.</summary>
    public string? Refusal(string strategy) => StrategyLimits.RefusalOf(inner, strategy);

    /// <summary>The inner app's description of a data set; an empty schema when it has none.</summary>
    public DatasetSchema DescribeDataset(string path) => inner is IDatasetDescriber describer ? describer.DescribeDataset(path) : new DatasetSchema([]);

    /// <summary>The loaded data and partitions of a plan file (cached per process).</summary>
    public static SimulationRunner.Setup SetupOf(string planPath, ISimulationAppFactory factory, StrategyRegistry? strategies = null) =>
        Setups.GetOrAdd(planPath, p => new Lazy<SimulationRunner.Setup>(() =>
        {
            var plan = PlanParser.ParseFile(p, strategies ?? StrategyRegistry.CreateDefault());
            return SimulationRunner.Prepare(plan, new SimulationOptions
            {
                DataDir = "unused",
                PlanSource = p,
                BaseDirectory = Path.GetDirectoryName(p)!,
                Apps = [factory],
            });
        })).Value;

    private static int? IndexOf(SimulationRunner.Setup setup, string client)
    {
        for (int i = 0; i < setup.Names.Count; i++)
            if (setup.Names[i] == client) return i;
        return null;
    }
}
