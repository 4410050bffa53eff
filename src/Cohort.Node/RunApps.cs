using Cohort.Apps;
using Cohort.Clients;
using Cohort.Records;

namespace Cohort.Node;

/// <summary>The client app instance of each run this node takes part in (created on the run's first task, kept for a few runs).</summary>
internal sealed class RunApps(IClientAppFactory factory, NodeOptions options)
{
    private const int Keep = 4;
    private readonly LinkedList<(string RunId, Config Settings, IClientApp App)> _apps = new();
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
            if (n.Value.RunId != runId) continue;
            if (SameSettings(n.Value.Settings, appSettings)) return n.Value.App;
            // The run's settings changed under it: after the statistics step every task carries the
            // federation's statistics, and the app preprocesses its data again with them.
            if (n.Value.App is IDisposable stale) stale.Dispose();
            _apps.Remove(n);
            break;
        }
        var app = factory.Create(new ClientAppContext(runId, options.Name, appSettings, options.NodeSettings));
        _apps.AddFirst((runId, appSettings, app));
        while (_apps.Count > Keep)
        {
            var (oldRun, _, oldApp) = _apps.Last!.Value;
            if (oldApp is IDisposable d) d.Dispose();
            _personalization.Forget(oldRun);
            _apps.RemoveLast();
        }
        return app;
    }

    private static bool SameSettings(Config a, Config b)
    {
        if (a.Count != b.Count) return false;
        foreach (var (key, value) in a)
        {
            if (!b.TryGetValue(key, out var other) || !value.Equals(other)) return false;
        }
        return true;
    }
}
