using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Server.Hosting;
using Cohort.Transport.Channels;
using Microsoft.Extensions.Logging;

namespace Cohort.Cli.Demo;

/// <summary>
/// A whole federation on this machine: an embedded server (TLS with a generated CA) and one node
/// process per site, each enrolled with its own token. Used by the demo and the benchmarks.
/// </summary>
internal sealed class LocalFederation : IAsyncDisposable
{
    private LocalFederation(CohortServerHost server, ControlClient control, List<NodeProcess> nodes)
    {
        Server = server;
        Control = control;
        Nodes = nodes;
    }

    /// <summary>The embedded server.</summary>
    public CohortServerHost Server { get; }

    /// <summary>Control API client with the admin token.</summary>
    public ControlClient Control { get; }

    /// <summary>The node processes.</summary>
    public IReadOnlyList<NodeProcess> Nodes { get; }

    /// <summary>Starts the server in <paramref name="dataDir"/> (which the caller has emptied) and one node per site; waits until all are online.</summary>
    public static async Task<LocalFederation> StartAsync(
        string dataDir, string app, IReadOnlyList<(string Node, IReadOnlyList<string> Arguments)> sites, CancellationToken ct,
        Cohort.Strategies.StrategyServices? services = null)
    {
        Directory.CreateDirectory(dataDir);
        services ??= new Cohort.Strategies.StrategyServices();
        if (services.ServerApps.Count == 0) services = services with { ServerApps = Apps.BuiltInApps.ServerApps(Path.GetFullPath(Path.Combine(dataDir, "evaluation"))) };
        var server = await CohortServerHost.StartAsync(
            new ServerOptions { Host = "127.0.0.1", Port = 0, DataDir = Path.Combine(dataDir, "server") }, strategyServices: services, logLevel: LogLevel.Warning, ct: ct);
        var control = new ControlClient(new ConnectionOptions(server.Address.ToString(), server.AdminToken, server.CaFile));
        var nodes = new List<NodeProcess>();
        var federation = new LocalFederation(server, control, nodes);
        try
        {
            foreach (var (node, arguments) in sites)
            {
                string token = await control.CreateNodeTokenAsync(node, ct);
                // Each site keeps its own audit ledger, to check against the server's (cohort audit compare).
                var args = new List<string> { "--server", server.Address.ToString(), "--name", node, "--app", app, "--ca", server.CaFile!, "--state-dir", Path.Combine(dataDir, $"node-{node}") };
                args.AddRange(arguments);
                nodes.Add(NodeProcess.Start(node, token, args, Path.Combine(dataDir, $"node-{node}.log")));
            }
            await federation.WaitForNodesAsync(sites.Count, TimeSpan.FromSeconds(60), ct);
            return federation;
        }
        catch
        {
            await federation.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until <paramref name="count"/> nodes are online.</summary>
    public async Task WaitForNodesAsync(int count, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var online = (await Control.ListNodesAsync(ct)).Count(n => n.TypedStatus().IsConnected());
            if (online >= count) return;
            var dead = Nodes.FirstOrDefault(n => !n.IsRunning);
            if (dead is not null) throw new CliException($"node '{dead.Name}' exited; see {Path.Combine(Server.DataDir, "..", $"node-{dead.Name}.log")}");
            if (DateTime.UtcNow > deadline) throw new CliException($"only {online} of {count} nodes came online within {timeout.TotalSeconds:0}s");
            await Task.Delay(100, ct);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var n in Nodes) await n.DisposeAsync();
        Control.Dispose();
        await Server.DisposeAsync();
    }
}
