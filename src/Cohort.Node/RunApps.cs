using Cohort.Apps;
using Cohort.Clients;
using Cohort.Records;

namespace Cohort.Node;

/// <summary>The client app instance of each run this node takes part in (created on the run's first task, kept for a few runs).</summary>
internal sealed class RunApps(IClientAppFactory factory, NodeOptions options)
{
    private const int Keep = 4;
    private readonly LinkedList<(string RunId, IClientApp App)> _apps = new();
    private readonly PersonalizationStep _personalization = new();

    /// <summary>
    /// The steps every task runs through on this node, across reconnects: a plan asking for local
    /// differential privacy gets clipped, noised updates, and tensors a plan marks local stay here.
    /// </summary>
    public ClientTaskRunner Runner => field ??= ClientTaskRunner.ForNode(_personalization);

    /// <summary>The name of the app this node runs.</summary>
    public string AppName => factory.Name;

    /// <summary>True when this node runs <paramref name="appName"/>.</summary>
    public bool Serves(string appName) => string.Equals(appName, factory.Name, StringComparison.OrdinalIgnoreCase);

    /// <summary>The app for a run, created with the run's app settings and data set when first needed.</summary>
    public IClientApp For(string runId, string appName, Config appSettings, string? dataset = null)
    {
        if (!Serves(appName))
            throw new InvalidOperationException($"this node runs app '{factory.Name}', the run needs '{appName}'");
        for (var n = _apps.First; n is not null; n = n.Next)
        {
            if (n.Value.RunId == runId) return n.Value.App;
        }
        var app = factory.Create(new ClientAppContext(runId, options.Name, appSettings, SettingsFor(dataset)));
        _apps.AddFirst((runId, app));
        while (_apps.Count > Keep)
        {
            var (oldRun, oldApp) = _apps.Last!.Value;
            if (oldApp is IDisposable d) d.Dispose();
            _personalization.Forget(oldRun);
            _apps.RemoveLast();
        }
        return app;
    }

    /// <summary>
    /// The preflight of a run on this node: every problem its app settings have on this node's data, as
    /// far as the app can tell without training (nothing when the app cannot check).
    /// </summary>
    public IReadOnlyList<string> Validate(string runId, string appName, Config appSettings, string? dataset)
    {
        if (!Serves(appName)) return [$"this node runs app '{factory.Name}', the run needs '{appName}'"];
        Config nodeSettings;
        try
        {
            nodeSettings = SettingsFor(dataset);
        }
        catch (InvalidOperationException e)
        {
            return [e.Message];
        }
        if (factory is not IValidatingClientApp validating) return [];
        try
        {
            return validating.Validate(new ClientAppContext(runId, options.Name, appSettings, nodeSettings));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return [$"the app's check failed: {e.Message}"];
        }
    }

    /// <summary>The app's node settings for a run on <paramref name="dataset"/>: <c>data</c> is that data set's path.</summary>
    private Config SettingsFor(string? dataset)
    {
        string? path;
        if (dataset is null)
        {
            // A run that names no data set gets the node's default data: its data setting, or its only data set.
            if (options.NodeSettings.ContainsKey("data") || options.Datasets.Count != 1) return options.NodeSettings;
            path = options.Datasets.Values.First();
        }
        else if (!options.Datasets.TryGetValue(dataset, out path))
        {
            string held = options.Datasets.Count == 0 ? "none" : string.Join(", ", options.Datasets.Keys.Order(StringComparer.Ordinal));
            throw new InvalidOperationException($"this node holds no data set '{dataset}' (it holds: {held})");
        }
        var settings = options.NodeSettings.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        settings["data"] = path;
        return new Config(settings);
    }
}
