using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Cohort.Cli.Control;
using Cohort.Cli.Demo;
using Cohort.Node;
using Cohort.Records;
using Cohort.Transport.Channels;
using Microsoft.Extensions.Logging;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench reconnect</c>: a fleet of node clients hosted in this process, all online with a
/// <c>cohort server</c> process, which is then killed (SIGKILL, as a crash) and started again on the same
/// data folder and port. Measures how long until every node is back online, how many times nodes
/// registered to get there, the warnings on both sides, and whether a run submitted afterwards completes.
/// </summary>
internal static class ReconnectBench
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Node clients (each its own gRPC connection), hosted in this process", DefaultValueFactory = _ => 1000 };
        var values = new Option<int>("--values") { Description = "Model size in float32 values", DefaultValueFactory = _ => 100 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds of the run submitted once every node is back", DefaultValueFactory = _ => 5 };
        var fraction = new Option<double>("--fraction") { Description = "Share of the nodes sampled for each round's fit and evaluate tasks", DefaultValueFactory = _ => 0.1 };
        var settle = new Option<double>("--settle") { Description = "Seconds to keep watching after every node is back, before the run is submitted", DefaultValueFactory = _ => 10 };
        var nodeTimeout = new Option<double>("--node-timeout") { Description = "The server's --node-timeout (seconds without heartbeat before a node is offline)", DefaultValueFactory = _ => 4.0 };
        var load = new Option<int>("--load") { Description = "Busy background processes from just before the restart to the end (0: none): the restart on a machine short of CPU", DefaultValueFactory = _ => 0 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("reconnect", "A fleet of node clients, all online, then the server process killed and started again: seconds until every node is back, registrations, warnings, and a run afterwards")
        {
            nodes, values, rounds, fraction, settle, nodeTimeout, load, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int n = pr.GetValue(nodes), size = pr.GetValue(values), perRun = pr.GetValue(rounds);
            int busy = pr.GetValue(load);
            double share = pr.GetValue(fraction), quiet = pr.GetValue(settle), timeout = pr.GetValue(nodeTimeout);
            if (n < 1 || size < 1 || perRun < 1 || share <= 0 || share > 1 || quiet < 0 || timeout <= 0 || busy < 0)
                throw new CliException("--nodes ≥ 1, --values ≥ 1, --rounds ≥ 1, --settle ≥ 0, --node-timeout > 0, --load ≥ 0 and 0 < --fraction ≤ 1");
            string dir = BenchFigures.FreshFolder("bench-reconnect");
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["nodes"] = n,
                ["values"] = size,
                ["rounds"] = perRun,
                ["fraction"] = share,
                ["settle_s"] = quiet,
                ["node_timeout_s"] = timeout,
                ["background_load_processes"] = busy,
            });
            string dataDir = Path.Combine(dir, "server");
            string[] serverArgs = ["--node-timeout", timeout.ToString(CultureInfo.InvariantCulture)];
            var server = await ServerProcess.StartAsync(dataDir, serverArgs, Path.Combine(dir, "server.log"), ct);
            var nodeLog = new RegistrationCounter();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var fleet = new List<Task>(n);
            var background = new List<Process>();
            try
            {
                using var control = new ControlClient(new ConnectionOptions(server.Address, server.AdminToken, server.CaFile));
                var clock = Stopwatch.StartNew();
                var tokens = await SoakBench.CreateTokensAsync(control, n, ct);
                clock.Restart();
                // The first connection is not what is measured: in waves, as the soak connects.
                await SoakBench.StartFleetAsync(fleet, server, tokens, size, nodeLog, stop.Token, ct);
                await WaitForOnlineAsync(control, fleet, n, TimeSpan.FromMinutes(3), null, ct);
                Print(figures, "setup.nodes_online_s", clock.Elapsed.TotalSeconds);
                // A quiet moment, so the restart meets a fleet that only heartbeats.
                await Task.Delay(TimeSpan.FromSeconds(3), ct);
                Print(figures, "setup.node_warnings", nodeLog.Warnings);
                Print(figures, "setup.registrations", nodeLog.Registrations);

                for (int i = 0; i < busy; i++) background.Add(RoundOverheadBench.StartBusyProcess());
                int warningsBefore = nodeLog.Warnings, registrationsBefore = nodeLog.Registrations;
                nodeLog.ResetPerNode();
                clock.Restart();
                await server.CrashAsync();
                await server.DisposeAsync();
                string restartLog = Path.Combine(dir, "server-restarted.log");
                server = await ServerProcess.StartAsync(dataDir, serverArgs, restartLog, ct, port: server.Port);
                double serverUp = clock.Elapsed.TotalSeconds;
                Print(figures, "restart.server_listening_s", serverUp);
                var curve = new JsonArray();
                await WaitForOnlineAsync(control, fleet, n, TimeSpan.FromMinutes(5), curve, ct, clock);
                double allOnline = clock.Elapsed.TotalSeconds;
                await Task.Delay(TimeSpan.FromSeconds(quiet), ct);
                // What it took to get every node back, and whether they stayed: counted up to the end of the settle time.
                int offline = SoakBench.ServerWarnings(restartLog).Count(l => l.Contains("is offline", StringComparison.Ordinal));
                int serverWarnings = SoakBench.ServerWarnings(restartLog).Count;
                int registrations = nodeLog.Registrations - registrationsBefore;
                Print(figures, "restart.all_online_s", allOnline);
                Print(figures, "restart.all_online_after_listening_s", allOnline - serverUp);
                Print(figures, "restart.registrations", registrations);
                Print(figures, "restart.registrations_per_node", (double)registrations / n);
                Print(figures, "restart.most_registrations_of_one_node", nodeLog.MostRegistrationsOfOneNode);
                Print(figures, "restart.node_offline_warnings", offline);
                Print(figures, "restart.server_warnings", serverWarnings);
                Print(figures, "restart.node_warnings", nodeLog.Warnings - warningsBefore);
                Print(figures, "restart.online_after_settle", await OnlineAsync(control, ct));

                clock.Restart();
                var run = await control.SubmitAsync(SoakBench.Plan(n, share, perRun), "bench", ct);
                var deadline = TimeSpan.FromMinutes(3);
                string status;
                while (true)
                {
                    status = (await control.ListAsync(null, ct)).First(r => r.Id == run.Id).Status;
                    if (status is "finished" or "failed" or "stopped") break;
                    if (clock.Elapsed > deadline)
                    {
                        await control.StopAsync(run.Id, ct);
                        status = "stuck";
                        break;
                    }
                    await Task.Delay(250, ct);
                }
                var detail = await control.GetAsync(run.Id, ct);
                Print(figures, "run.finished", status == "finished" ? 1 : 0);
                Print(figures, "run.seconds", clock.Elapsed.TotalSeconds);
                Print(figures, "run.rounds", detail.Rounds.Count);
                Print(figures, "run.failed_node_results", detail.Rounds.SelectMany(r => r.Nodes).Count(r => !r.Ok));
                figures["run.status"] = status;
                if (detail.Run.Error is { Length: > 0 } error) figures["run.error"] = error;
                figures["online_curve"] = curve;
                var first = SoakBench.ServerWarnings(restartLog).Take(5).Select(l => l.Length > 300 ? l[..300] : l).Concat(nodeLog.FirstMessages).ToArray();
                figures["first_warnings"] = new JsonArray([.. first.Select(f => (JsonNode)f)]);
                foreach (var f in first.Take(10)) Console.WriteLine($"  {f}");
                Print(figures, "host.rss_mib.end", ProcessMemory.Read(Environment.ProcessId).Rss);
            }
            finally
            {
                foreach (var p in background) RoundOverheadBench.StopBusyProcess(p);
                await stop.CancelAsync();
                await Task.WhenAll(fleet.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
                await server.DisposeAsync();
            }
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    private static async Task<int> OnlineAsync(ControlClient control, CancellationToken ct) =>
        (await control.ListNodesAsync(ct)).Count(x => x.Status is "online" or "busy");

    // Polls until every node is online; with a curve, records how many were online at each poll (after a restart the
    // control channel reconnects too, so a failed poll counts as none online rather than as an error).
    private static async Task WaitForOnlineAsync(ControlClient control, List<Task> fleet, int count, TimeSpan limit, JsonArray? curve, CancellationToken ct, Stopwatch? clock = null)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            int online;
            try
            {
                online = await OnlineAsync(control, ct);
            }
            catch (Grpc.Core.RpcException) when (curve is not null)
            {
                online = 0;
            }
            curve?.Add((JsonNode)new JsonObject { ["t_s"] = Math.Round(clock?.Elapsed.TotalSeconds ?? 0, 2), ["online"] = online });
            if (online >= count) return;
            if (fleet.FirstOrDefault(t => t.IsCompleted) is { } stopped)
                throw new CliException($"a node client stopped: {stopped.Exception?.GetBaseException().Message ?? "without an error"}");
            if (DateTime.UtcNow > deadline) throw new CliException($"only {online} of {count} nodes online after {limit.TotalMinutes:0} minutes");
            await Task.Delay(250, ct);
        }
    }

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);

    /// <summary>Counts the node clients' warnings (as <see cref="CountingLogger"/>) and their registrations, per node too.</summary>
    private sealed class RegistrationCounter : ILogger
    {
        private readonly CountingLogger _warnings = new();
        private readonly ConcurrentDictionary<string, int> _perNode = new(StringComparer.Ordinal);
        private int _registrations;

        public int Warnings => _warnings.Warnings;

        public IReadOnlyList<string> FirstMessages => _warnings.FirstMessages;

        public int Registrations => Volatile.Read(ref _registrations);

        public int MostRegistrationsOfOneNode => _perNode.IsEmpty ? 0 : _perNode.Values.Max();

        public void ResetPerNode() => _perNode.Clear();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                _warnings.Log(logLevel, eventId, state, exception, formatter);
                return;
            }
            // The node's own line when a registration succeeded: "Node {Node} registered with {Server} (server {Version})".
            if (state is not IReadOnlyList<KeyValuePair<string, object?>> values || values.Count == 0
                || values[^1].Value is not string format || !format.StartsWith("Node {Node} registered with", StringComparison.Ordinal)) return;
            Interlocked.Increment(ref _registrations);
            if (values[0].Value is string node) _perNode.AddOrUpdate(node, 1, (_, c) => c + 1);
        }
    }
}
