using Cohort.Learning.Data;

namespace Cohort.Apps.Tabular;

/// <summary>
/// Creates <see cref="TabularApp"/>s (plan app name "tabular"): reads the app settings, then reads and
/// preprocesses the file named by the node setting <c>data</c>.
/// </summary>
public sealed class TabularAppFactory : ISimulationAppFactory, IValidatingClientApp, IDatasetDescriber
{
    /// <summary>The plan's app name.</summary>
    public const string AppName = "tabular";

    /// <inheritdoc />
    public string Name => AppName;

    /// <inheritdoc />
    public IClientApp Create(ClientAppContext context)
    {
        var settings = TabularSettings.FromConfig(context.AppSettings);
        if (!settings.NeedsStatistics) return CreateTabular(context);
        TabularTable table;
        if (context.Partition is { Dataset: TabularSimulationDataset shared } partition)
        {
            // A virtual client is a node whose file is its share of the rows.
            table = shared.ClientTable(partition);
        }
        else
        {
            string path = new SettingsReader(context.NodeSettings, "node setting").RequiredString("data", "the path of this node's data file");
            table = TabularReader.ReadFile(path, TabularPreprocessor.ReadOptionsFor(settings.Read, settings.Preprocess));
        }
        return FromTable(settings, table, context.NodeName);
    }

    /// <summary>
    /// The app over a table already read, for settings that need the statistics step: before the
    /// statistics came, one that answers the statistics task; after, the trained-on app preprocessed with them.
    /// </summary>
    internal static IClientApp FromTable(TabularSettings settings, TabularTable table, string nodeName) => settings.Statistics is null
        ? new TabularStatisticsApp(TabularStatistics.Compute(table, settings.Preprocess), nodeName)
        : new TabularApp(settings, TabularPreprocessor.Process(table, settings.Preprocess), nodeName);

    /// <summary>
    /// Like <see cref="Create"/>, typed. Throws <see cref="AppConfigurationException"/> for a missing or
    /// wrong setting and <see cref="TabularDataException"/> (naming file and line) for bad data.
    /// </summary>
    internal TabularApp CreateTabular(ClientAppContext context)
    {
        if (context.Partition is { Dataset: TabularSimulationDataset shared } partition)
            return new TabularApp(shared.Settings, shared.ClientSplit(partition), context.NodeName);
        var settings = TabularSettings.FromConfig(context.AppSettings);
        string path = new SettingsReader(context.NodeSettings, "node setting").RequiredString("data", "the path of this node's data file");
        var data = TabularPreprocessor.LoadFile(path, settings.Read, settings.Preprocess);
        return new TabularApp(settings, data, context.NodeName);
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Validate(ClientAppContext context) => TabularValidation.Check(context, this);

    /// <summary>The file's column names and types, inferred as <c>categorical: auto</c> infers them (<see cref="TabularSchema"/>).</summary>
    public DatasetSchema DescribeDataset(string path) => TabularSchema.Infer(path);

    /// <inheritdoc />
    public ISimulationDataset LoadDataset(SimulationDataContext context) =>
        TabularSimulationDataset.Load(TabularSettings.FromConfig(context.AppSettings), context);
}
