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

    /// <summary>The app for a run, created with the run's app settings when first needed.</summary>
    public IClientApp For(string runId, string appName, Config appSettings)
    {
        if (!Serves(appName))
            throw new InvalidOperationException($"this node runs app '{factory.Name}', the run needs '{appName}'");
        for (var n = _apps.First; n is not null; n = n.Next)
        {
            if (n.Value.RunId == runId) return n.Value.App;
        }
        var app = factory.Create(new ClientAppContext(runId, options.Name, appSettings, options.NodeSettings));
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
}
