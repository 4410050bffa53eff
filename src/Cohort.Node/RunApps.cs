using Cohort.Apps;
using Cohort.Records;

namespace Cohort.Node;

/// <summary>The client app instance of each run this node takes part in (created on the run's first task, kept for a few runs).</summary>
internal sealed class RunApps(IClientAppFactory factory, NodeOptions options)
{
    private const int Keep = 4;
    private readonly LinkedList<(string RunId, IClientApp App)> _apps = new();

    /// <summary>The app for a run, created with the run's app settings when first needed.</summary>
    public IClientApp For(string runId, string appName, Config appSettings)
    {
        if (!string.Equals(appName, factory.Name, StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"this node runs app '{factory.Name}', the run needs '{appName}'");
        for (var n = _apps.First; n is not null; n = n.Next)
        {
            if (n.Value.RunId == runId) return n.Value.App;
        }
        // Every app is wrapped so that tensors a plan marks local stay on this node, and so that a plan
        // asking for local differential privacy gets clipped, noised updates out of it.
        var created = factory.Create(new ClientAppContext(runId, options.Name, appSettings, options.NodeSettings));
        IClientApp app = new Privacy.LocalDifferentialPrivacy(new PersonalizedClientApp(created));
        _apps.AddFirst((runId, app));
        while (_apps.Count > Keep)
        {
            if (_apps.Last!.Value.App is Privacy.LocalDifferentialPrivacy { Inner: PersonalizedClientApp { Inner: IDisposable d } }) d.Dispose();
            _apps.RemoveLast();
        }
        return app;
    }
}
