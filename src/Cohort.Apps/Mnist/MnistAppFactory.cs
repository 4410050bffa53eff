using Cohort.Learning.Data.Idx;
using Cohort.Learning.Data.Mnist;

namespace Cohort.Apps.Mnist;

/// <summary>
/// Creates <see cref="MnistApp"/>s (plan app name "mnist"): reads the app settings, then the node
/// settings <c>data</c> (the IDX folder), <c>digits</c>, <c>train_examples</c> and <c>test_examples</c>,
/// which override the same keys in the app settings. The images are loaded once per folder per process.
/// </summary>
public sealed class MnistAppFactory : ISimulationAppFactory, IStrategyLimitedApp
{
    /// <summary>The plan's app name.</summary>
    public const string AppName = "mnist";

    /// <inheritdoc />
    public string Name => AppName;

    /// <inheritdoc />
    public IClientApp Create(ClientAppContext context) => CreateMnist(context);

    /// <summary>What the app says of a SCAFFOLD run, at its preflight and (from a server that sent no terms) at its first fit.</summary>
    internal const string NoScaffold = "the mnist app does not keep SCAFFOLD's control variates: choose another strategy (fedavg, fedprox, …); the built-in tabular app supports scaffold";

    /// <inheritdoc />
    public string? Refusal(string strategy) =>
        string.Equals(strategy, "scaffold", StringComparison.OrdinalIgnoreCase) ? NoScaffold : null;

    /// <summary>
    /// Like <see cref="Create"/>, typed. Throws <see cref="AppConfigurationException"/> for a missing or
    /// wrong setting and <see cref="IdxFormatException"/> (naming the file) for missing or corrupt data.
    /// </summary>
    internal MnistApp CreateMnist(ClientAppContext context)
    {
        if (context.Partition is { Dataset: MnistSimulationDataset shared } partition) return shared.CreateClient(partition, context.NodeName);
        var settings = MnistSettings.FromConfig(context.AppSettings);
        var selection = MnistDataSelection.Read(new SettingsReader(context.NodeSettings, "node setting"), settings.Data);
        if (selection.Folder is null)
            throw new AppConfigurationException("node setting 'data' is missing (required: the folder holding MNIST's IDX files, e.g. examples/mnist/data; it may also be set in app settings)");
        settings = settings with { Data = selection };
        var data = MnistData.Shared(selection.Folder);
        return new MnistApp(data, null, settings, context.NodeName);
    }

    /// <inheritdoc />
    public ISimulationDataset LoadDataset(SimulationDataContext context) =>
        MnistSimulationDataset.Load(MnistSettings.FromConfig(context.AppSettings), context);
}
