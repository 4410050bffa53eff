using System.Net;
using System.Net.Sockets;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Server.Hosting;
using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Microsoft.Extensions.Logging;

namespace Cohort.Integration.Tests.Infrastructure;

/// <summary>A real Cohort server on loopback (TLS with a generated CA) in a temporary data folder.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(CohortServerHost host, string dataDir, ControlClient control)
    {
        Host = host;
        DataDir = dataDir;
        Control = control;
    }

    /// <summary>The server.</summary>
    public CohortServerHost Host { get; }

    /// <summary>Its data folder.</summary>
    public string DataDir { get; }

    /// <summary>Control API client with the admin token.</summary>
    internal ControlClient Control { get; }

    /// <summary>
    /// Starts one in-process node per app (the app's name is the node's), each enrolled with a fresh token; returns their
    /// running tasks. With <paramref name="stateRoot"/>, each node keeps its audit ledger in STATE_ROOT/NAME.
    /// </summary>
    public async Task<List<Task>> StartNodesAsync(IReadOnlyDictionary<string, Cohort.Apps.IClientApp> apps, string appName, CancellationToken stop, string? stateRoot = null)
    {
        var running = new List<Task>();
        foreach (var (name, app) in apps)
        {
            var options = new Cohort.Node.NodeOptions
            {
                Connection = new ConnectionOptions(Host.Address.ToString(), await Control.CreateNodeTokenAsync(name, default), Host.CaFile),
                Name = name,
                StateDir = stateRoot is null ? null : Path.Combine(stateRoot, name),
            };
            running.Add(Cohort.Node.CohortNode.RunAsync(app, appName, options, stop));
        }
        return running;
    }

    /// <summary>Starts a server; reuse <paramref name="dataDir"/> and <paramref name="port"/> to restart one; <paramref name="configure"/> changes further options.</summary>
    public static async Task<TestServer> StartAsync(string? dataDir = null, int port = 0, TimeSpan? nodeTimeout = null, bool mutualTls = false, Cohort.Strategies.StrategyServices? strategyServices = null, string? database = null,
        Func<ServerOptions, ServerOptions>? configure = null)
    {
        dataDir ??= Path.Combine(Path.GetTempPath(), "cohort-test-" + Guid.NewGuid().ToString("N")[..8]);
        configure ??= o => o;
        var host = await CohortServerHost.StartAsync(configure(new ServerOptions
        {
            Host = "127.0.0.1",
            Port = port,
            DataDir = dataDir,
            NodeTimeout = nodeTimeout ?? TimeSpan.FromSeconds(2),
            HeartbeatInterval = TimeSpan.FromMilliseconds(300),
            RequireNodeCertificates = mutualTls,
            Database = database,
            DashboardPort = 0,
        }), strategyServices: strategyServices ?? new Cohort.Strategies.StrategyServices { ServerApps = Cohort.Apps.BuiltInApps.ServerApps(Path.GetFullPath(Path.Combine(dataDir, "evaluation"))) },
            logLevel: LogLevel.Warning);
        var control = new ControlClient(new ConnectionOptions(host.Address.ToString(), host.AdminToken, host.CaFile));
        return new TestServer(host, dataDir, control);
    }

    /// <summary>A free loopback port.</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Port the server listens on.</summary>
    public int Port => Host.Address.Port;

    /// <summary>
    /// Starts a <c>cohort node</c> process running <paramref name="app"/> for each of <paramref name="names"/>, each with
    /// its own token and <paramref name="extra"/>'s arguments, adding each to <paramref name="nodes"/> as it starts
    /// (so a caller's cleanup sees every process started, even when a later one fails).
    /// </summary>
    internal async Task StartCliNodesAsync(List<CliProcess> nodes, IEnumerable<string> names, string app, Func<string, string[]>? extra = null)
    {
        foreach (var name in names)
            nodes.Add(CliProcess.StartNode(this, name, await Control.CreateNodeTokenAsync(name, default), app, extra?.Invoke(name) ?? []));
    }

    /// <summary>Waits until <paramref name="count"/> nodes are online.</summary>
    public async Task WaitForNodesAsync(int count, TimeSpan? timeout = null, IReadOnlyList<CliProcess>? processes = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var nodes = await Control.ListNodesAsync(CancellationToken.None);
            if (nodes.Count(n => n.TypedStatus().IsConnected()) >= count) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{count} nodes not online; nodes: {string.Join(", ", nodes.Select(n => $"{n.Name}={n.Status}"))}\n" +
                    string.Join("\n", (processes ?? []).Select(p => p.Output)));
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until the run ends and returns it.</summary>
    internal async Task<RunDetail> WaitForRunAsync(string id, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (true)
        {
            var detail = await Control.GetAsync(id, CancellationToken.None);
            if (detail.Run.TypedStatus().IsFinal()) return detail;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"run {id} still {detail.Run.Status} at round {detail.Run.RoundsDone}");
            await Task.Delay(100);
        }
    }

    /// <summary>Stops the server (its data folder stays, for a restart).</summary>
    public async Task StopAsync()
    {
        Control.Dispose();
        await Host.DisposeAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (ObjectDisposedException)
        {
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
