using System.Collections.Concurrent;
using Cohort.Engine.Nodes;
using Cohort.Engine.State;

namespace Cohort.Server.Fleet;

/// <summary>Live view of the nodes: who is online, with which app, when each was last heard from.</summary>
internal sealed class NodeRegistry
{
    private readonly ConcurrentDictionary<string, LiveNode> _nodes = new(StringComparer.Ordinal);
    private readonly ChangeSignal _changed = new();
    // Nodes connected when the server last stopped, by name, with their app; each leaves when it registers again.
    private readonly ConcurrentDictionary<string, string> _expected = new(StringComparer.Ordinal);

    /// <summary>Completes at the next registration, node coming back, node going offline or change in what a node is busy with.</summary>
    public Task Changed => _changed.Next;

    /// <summary>Raised after each registration (the server's memory pass follows a burst of them).</summary>
    public event Action? Registered;

    /// <summary>A node's live state.</summary>
    public sealed class LiveNode
    {
        /// <summary>Node name.</summary>
        public required string Name { get; init; }

        /// <summary>Client app the node runs.</summary>
        public string App { get; set; } = "";

        /// <summary>Node software version.</summary>
        public string Version { get; set; } = "";

        /// <summary>Remote address of its last call.</summary>
        public string Address { get; set; } = "";

        /// <summary>The registered process's session (empty when the node sent none).</summary>
        public string Session { get; set; } = "";

        /// <summary>Last time the node called.</summary>
        public DateTimeOffset LastSeen { get; set; }

        /// <summary>False once heartbeats stop.</summary>
        public bool Online { get; set; }

        /// <summary>True once the registered process said it is leaving; until the node registers again, its calls are refused.</summary>
        public bool Left { get; set; }

        /// <summary>Tasks the node runs at the same time (it says so when it registers).</summary>
        public int Capacity { get; set; } = 1;

        /// <summary>Tasks the node says it is working on.</summary>
        public IReadOnlyList<string> BusyTasks { get; set; } = [];

        /// <summary>The first task the node says it is working on.</summary>
        public string? BusyTask => BusyTasks.Count > 0 ? BusyTasks[0] : null;

        /// <summary>The data sets the node declared when it last registered (name, schema hash, columns).</summary>
        public IReadOnlyList<DeclaredDataset> Datasets { get; set; } = [];

        /// <summary>True when the node declared a data set called <paramref name="name"/>.</summary>
        public bool Holds(string name) => Datasets.Any(d => d.Name == name);

        /// <summary>"online", "busy" or "offline".</summary>
        public NodeStatus Status => !Online ? NodeStatus.Offline : BusyTasks.Count == 0 ? NodeStatus.Online : NodeStatus.Busy;
    }

    /// <summary>Records the nodes (name, app) that were connected when the server last stopped: resumed runs wait for them.</summary>
    public void ExpectBack(IEnumerable<(string Name, string App)> nodes)
    {
        foreach (var (name, app) in nodes)
        {
            if (!_nodes.ContainsKey(name)) _expected[name] = app;
        }
    }

    /// <summary>Nodes running <paramref name="app"/> that were connected when the server last stopped and have not registered since, sorted.</summary>
    public IReadOnlyList<string> NotYetBack(string app) => _expected
        .Where(kv => string.Equals(kv.Value, app, StringComparison.OrdinalIgnoreCase) && !_nodes.ContainsKey(kv.Key))
        .Select(kv => kv.Key).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Marks a node online after it registered.</summary>
    public LiveNode Register(string name, string app, string version, string address, string session = "", int capacity = 1, IReadOnlyList<DeclaredDataset>? datasets = null)
    {
        var n = _nodes.GetOrAdd(name, k => new LiveNode { Name = k });
        lock (n)
        {
            n.Datasets = datasets ?? [];
            n.Session = session;
            n.App = app;
            n.Version = version;
            n.Address = address;
            n.LastSeen = DateTimeOffset.UtcNow;
            n.Online = true;
            n.Left = false;
            n.Capacity = Math.Max(1, capacity);
            n.BusyTasks = [];
        }
        _changed.Notify();
        Registered?.Invoke();
        return n;
    }

    /// <summary>
    /// The live registration that a new one from <paramref name="session"/> would displace: another session of the
    /// same node name that was online with a sign of life within <paramref name="timeout"/>; null when there is none.
    /// </summary>
    public (string Address, DateTimeOffset LastSeen)? OtherLiveSession(string name, string session, TimeSpan timeout)
    {
        if (session.Length == 0 || !_nodes.TryGetValue(name, out var n)) return null;
        lock (n)
        {
            bool other = n.Online && n.Session.Length > 0 && n.Session != session && DateTimeOffset.UtcNow - n.LastSeen <= timeout;
            return other ? (n.Address, n.LastSeen) : null;
        }
    }

    /// <summary>
    /// Records a sign of life from the process registered as <paramref name="session"/>; returns false when the node has not
    /// registered since the server started or since it left, or when <paramref name="session"/> is not its current session.
    /// An empty <paramref name="session"/> (an older node, which sends none) is not checked.
    /// </summary>
    public bool Touch(string name, IReadOnlyList<string>? busyTasks = null, bool updateBusy = false, string session = "")
    {
        if (!_nodes.TryGetValue(name, out var n)) return false;
        bool changed;
        lock (n)
        {
            // A heartbeat the leaving process sent just before its leave must not bring the node back for a node timeout.
            if (n.Left) return false;
            // A process replaced under the node's name must not bring the node back: its replacement is the node now.
            if (session.Length > 0 && n.Session != session) return false;
            n.LastSeen = DateTimeOffset.UtcNow;
            changed = !n.Online;
            n.Online = true;
            if (updateBusy)
            {
                var busy = busyTasks ?? [];
                changed |= !busy.SequenceEqual(n.BusyTasks, StringComparer.Ordinal);
                n.BusyTasks = busy;
            }
        }
        if (changed) _changed.Notify();
        return true;
    }

    /// <summary>The session id of the node's current registration; null when it has not registered since the server started.</summary>
    public string? SessionOf(string name)
    {
        if (!_nodes.TryGetValue(name, out var n)) return null;
        lock (n) return n.Session;
    }

    /// <summary>
    /// True when a call from <paramref name="session"/> comes from the node's current registration: the node registered since
    /// the server started and that is its session. An empty <paramref name="session"/> (an older node, which sends none) is
    /// taken as today's: true once the node has registered.
    /// </summary>
    public bool IsCurrentSession(string name, string session)
    {
        if (!_nodes.TryGetValue(name, out var n)) return false;
        lock (n) return session.Length == 0 || n.Session == session;
    }

    /// <summary>
    /// Marks the node offline because the process registered as <paramref name="session"/> is leaving, and returns it;
    /// null when that is not the node's current session (a late leave from a process since replaced) or it is offline already.
    /// </summary>
    public LiveNode? Leave(string name, string session)
    {
        if (!_nodes.TryGetValue(name, out var n)) return null;
        lock (n)
        {
            if (n.Session != session || !n.Online) return null;
            // The leave is the node's last sign of life.
            n.LastSeen = DateTimeOffset.UtcNow;
            n.Online = false;
            n.Left = true;
            n.BusyTasks = [];
        }
        _changed.Notify();
        return n;
    }

    /// <summary>
    /// Marks the node offline whatever session it is in (its token was revoked: none of its calls will be served), and
    /// returns it; null when it is not online.
    /// </summary>
    public LiveNode? Disconnect(string name)
    {
        if (!_nodes.TryGetValue(name, out var n)) return null;
        lock (n)
        {
            if (!n.Online) return null;
            n.Online = false;
            n.BusyTasks = [];
        }
        _changed.Notify();
        return n;
    }

    /// <summary>Forgets a node that is not online (removed by an operator); false when it is online or unknown.</summary>
    public bool Forget(string name)
    {
        if (!_nodes.TryGetValue(name, out var n)) return false;
        lock (n)
        {
            if (n.Online || !_nodes.TryRemove(name, out _)) return false;
        }
        _changed.Notify();
        return true;
    }

    /// <summary>Names of online nodes running <paramref name="app"/> (any app when null), sorted.</summary>
    public IReadOnlyList<string> Online(string? app = null) => _nodes.Values
        .Where(n => n.Online && (app is null || string.Equals(n.App, app, StringComparison.OrdinalIgnoreCase)))
        .Select(n => n.Name).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Names of online nodes running <paramref name="app"/> that declared the data set <paramref name="dataset"/> (any when null), sorted.</summary>
    public IReadOnlyList<string> Online(string app, string? dataset) => dataset is null ? Online(app) : _nodes.Values
        .Where(n => n.Online && string.Equals(n.App, app, StringComparison.OrdinalIgnoreCase) && n.Holds(dataset))
        .Select(n => n.Name).Order(StringComparer.Ordinal).ToArray();

    /// <summary>True when the node is online.</summary>
    public bool IsOnline(string name) => _nodes.TryGetValue(name, out var n) && n.Online;

    /// <summary>All nodes seen since start.</summary>
    public IReadOnlyList<LiveNode> All => _nodes.Values.OrderBy(n => n.Name, StringComparer.Ordinal).ToArray();

    /// <summary>Marks nodes silent for longer than <paramref name="timeout"/> offline and returns them.</summary>
    public IReadOnlyList<LiveNode> Sweep(TimeSpan timeout)
    {
        var now = DateTimeOffset.UtcNow;
        var gone = new List<LiveNode>();
        foreach (var n in _nodes.Values)
        {
            lock (n)
            {
                if (n.Online && now - n.LastSeen > timeout)
                {
                    n.Online = false;
                    n.BusyTasks = [];
                    gone.Add(n);
                }
            }
        }
        if (gone.Count > 0) _changed.Notify();
        return gone;
    }
}
