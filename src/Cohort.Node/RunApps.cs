using Cohort.Apps;
using Cohort.Clients;
using Cohort.Records;
using Microsoft.Extensions.Logging;

namespace Cohort.Node;

/// <summary>
/// The client app instance of each run this node takes part in (created on the run's first task, kept for
/// a few runs). A node with capacity above 1 runs tasks of several runs at once, so each task holds its
/// run's app through a lease, and one app instance serves one task at a time: apps need not be thread-safe,
/// and a run's own tasks (a late one and its successor) never overlap on it.
/// </summary>
internal sealed class RunApps(IClientAppFactory factory, NodeOptions options)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Entry> _apps = new();
    private readonly PersonalizationStep _personalization = new();

    private int Keep => Math.Max(4, 2 * options.Capacity);

    /// <summary>
    /// The steps every task runs through on this node, across reconnects: a plan asking for local
    /// differential privacy gets clipped, noised updates, and tensors a plan marks local stay here.
    /// </summary>
    public ClientTaskRunner Runner => field ??= ClientTaskRunner.ForNode(_personalization);

    /// <summary>The name of the app this node runs.</summary>
    public string AppName => factory.Name;

    /// <summary>True when this node runs <paramref name="appName"/>.</summary>
    public bool Serves(string appName) => string.Equals(appName, factory.Name, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The app for a run, created with the run's app settings and data set when first needed, held for one task: waits
    /// while another task uses the same instance. Dispose the lease when the task is done.
    /// </summary>
    public async Task<AppLease> AcquireAsync(string runId, string appName, Config appSettings, string? dataset, CancellationToken ct)
    {
        if (!Serves(appName))
            throw new InvalidOperationException($"this node runs app '{factory.Name}', the run needs '{appName}'");
        Entry entry;
        lock (_gate)
        {
            var found = _apps.FirstOrDefault(e => e.RunId == runId);
            if (found is not null && !SameSettings(found.Settings, appSettings))
            {
                // The run's settings changed under it: after the statistics step every task carries the
                // federation's statistics, and the app preprocesses its data again with them.
                _apps.Remove(found);
                if (found.Leases == 0 && found.App is IDisposable d && !_apps.Any(e => ReferenceEquals(e.App, found.App))) d.Dispose();
                found = null;
            }
            entry = found ?? Add(runId, appSettings, dataset);
            entry.Leases++;
        }
        try
        {
            await entry.Turn.WaitAsync(ct);
        }
        catch
        {
            lock (_gate) entry.Leases--;
            throw;
        }
        return new AppLease(this, entry);
    }

    // Called under the gate.
    private Entry Add(string runId, Config appSettings, string? dataset)
    {
        // One instance for every run (CohortNode.RunAsync with an app) is created before any run: the plan's app.settings cannot reach it.
        if (factory is SingleAppFactory && appSettings.Count > 0)
            options.Logger.LogWarning("Node {Node}: run {Run} gives app settings ({Keys}) that this node's app never reads: it is one IClientApp instance, " +
                "which app.settings cannot reach; read them in an IClientAppFactory (CohortNode.RunAsync with a factory), or put values the app reads " +
                "each round under the plan's config:", options.Name, runId, string.Join(", ", appSettings.Keys.Order(StringComparer.Ordinal)));
        var app = factory.Create(new ClientAppContext(runId, options.Name, appSettings, SettingsFor(dataset)) { SiteLog = SiteLog(runId) });
        // A factory that hands every run the same instance gets one turn for all of them.
        var turn = _apps.FirstOrDefault(e => ReferenceEquals(e.App, app))?.Turn ?? new SemaphoreSlim(1, 1);
        var entry = new Entry(runId, appSettings, app, turn);
        _apps.AddFirst(entry);
        // Forget the oldest runs no task is using.
        for (var n = _apps.Last; n is not null && _apps.Count > Keep;)
        {
            var previous = n.Previous;
            if (n.Value.Leases == 0)
            {
                var old = n.Value;
                _apps.Remove(n);
                if (old.App is IDisposable d && !_apps.Any(e => ReferenceEquals(e.App, old.App))) d.Dispose();
                _personalization.Forget(old.RunId);
            }
            n = previous;
        }
        return entry;
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

    private void Release(Entry entry)
    {
        entry.Turn.Release();
        lock (_gate) entry.Leases--;
    }

    /// <summary>One run's app and the turn its tasks take on it.</summary>
    internal sealed class Entry(string runId, Config settings, IClientApp app, SemaphoreSlim turn)
    {
        /// <summary>The run.</summary>
        public string RunId { get; } = runId;

        /// <summary>The run's app settings the instance was created with.</summary>
        public Config Settings { get; } = settings;

        /// <summary>Its app instance.</summary>
        public IClientApp App { get; } = app;

        /// <summary>Held by the one task using the instance.</summary>
        public SemaphoreSlim Turn { get; } = turn;

        /// <summary>Tasks holding or waiting for this app; only an entry with none may be forgotten.</summary>
        public int Leases { get; set; }
    }

    /// <summary>A run's app, held by one task until disposed.</summary>
    internal sealed class AppLease : IDisposable
    {
        private readonly RunApps _owner;
        private readonly Entry _entry;
        private int _released;

        internal AppLease(RunApps owner, Entry entry)
        {
            _owner = owner;
            _entry = entry;
        }

        /// <summary>The app.</summary>
        public IClientApp App => _entry.App;

        /// <inheritdoc />
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) _owner.Release(_entry);
        }
    }

    /// <summary>
    /// The preflight of a run on this node: every problem its app settings have on this node's data, as
    /// far as the app can tell without training (nothing when the app cannot check), and its refusal of the run's
    /// <paramref name="strategy"/> when it cannot train under it.
    /// </summary>
    public IReadOnlyList<string> Validate(string runId, string appName, Config appSettings, string? dataset, string? strategy = null)
    {
        if (!Serves(appName)) return [$"this node runs app '{factory.Name}', the run needs '{appName}'"];
        if (StrategyLimits.RefusalOf(factory, strategy) is { } refusal) return [refusal];
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
            return validating.Validate(new ClientAppContext(runId, options.Name, appSettings, nodeSettings) { SiteLog = SiteLog(runId) });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            options.Logger.LogWarning(e, "Node {Node}: the app's check of run {Run} failed", options.Name, runId);
            return [$"the app's check failed: {SiteDataException.Shareable(e)}"];
        }
    }

    // What the app says about this site's data that must not reach the server goes to the node's own log.
    private Action<string> SiteLog(string runId) =>
        detail => options.Logger.LogWarning("Node {Node}: run {Run}: {Detail}", options.Name, runId, detail);

    /// <summary>
    /// The schema (column names and types) of the data a run on <paramref name="dataset"/> would use, for the
    /// preflight to compare across nodes; null when the app cannot describe its data or the node has none.
    /// </summary>
    public DatasetSchema? Describe(string? dataset)
    {
        if (factory is not IDatasetDescriber describer) return null;
        try
        {
            return SettingsFor(dataset).TryGetValue("data", out var path) ? describer.DescribeDataset(path.ToString()) : null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The validation reports what is wrong with the data; the schema is only for comparing.
            return null;
        }
    }

    /// <summary>The app's node settings for a run on <paramref name="dataset"/>: <c>data</c> is that data set's path.</summary>
    private Config SettingsFor(string? dataset)
    {
        string? path;
        if (dataset is null)
        {
            // A run that names no data set gets the node's default data: its data setting, or its only data set.
            if (options.NodeSettings.ContainsKey("data") || options.Datasets.Count == 0) return options.NodeSettings;
            // Picking one of several would train on data nobody chose; running without would fail later and less clearly.
            if (options.Datasets.Count > 1)
                throw new InvalidOperationException($"this node holds data sets {string.Join(", ", options.Datasets.Keys.Order(StringComparer.Ordinal))}; the plan names none (set dataset: to one of them)");
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
