using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Cohort.Cli.Control;
using Cohort.Cli.Demo;
using Cohort.Engine.State;
using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Google.Protobuf;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench memory-attacks</c>: a <c>cohort server</c> process with one honest node process, attacked in turn by calls
/// meant to make it hold memory: logins whose message never finishes (no token needed, from several loopback addresses),
/// a node's flood of plain task pulls each padded with 60 KB of unknown fields, and a node's heartbeats that never finish.
/// Prints per attack the server's RSS before, at its peak and after a pause, the calls held and refused, how long the held
/// ones were kept, and whether the honest node stayed online; at the end, whether a run still completes and what the
/// server's log says.
/// </summary>
internal static class MemoryAttackBench
{
    private static readonly string[] Attacks = ["logins", "pulls", "heartbeats"];
    private const string Intruder = "intruder";

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var attacks = new Option<string>("--attacks") { Description = "Which attacks, in order, comma-separated: logins, pulls, heartbeats", DefaultValueFactory = _ => string.Join(',', Attacks) };
        var seconds = new Option<double>("--seconds") { Description = "How long each attack goes on", DefaultValueFactory = _ => 40 };
        var workers = new Option<int>("--workers") { Description = "Calls the attacker keeps going at once (each starts another when it ends)", DefaultValueFactory = _ => 1000 };
        var addresses = new Option<int>("--addresses") { Description = "Loopback source addresses the logins come from (127.0.0.2 on)", DefaultValueFactory = _ => 8 };
        var settle = new Option<double>("--settle") { Description = "Seconds after each attack before the server's memory is read again", DefaultValueFactory = _ => 20 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file (e.g. bench/results/memory-attacks.json)" };
        var command = new Command("memory-attacks", "Calls meant to make the server hold memory (unfinished logins, a node's padded pull flood, unfinished heartbeats): the server's memory, calls held and refused, and an honest node's view")
        {
            attacks, seconds, workers, addresses, settle, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            var chosen = pr.GetValue(attacks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (chosen.Length == 0) throw new CliException($"--attacks: name at least one of {string.Join(", ", Attacks)}");
            if (chosen.FirstOrDefault(a => !Attacks.Contains(a)) is { } unknown)
                throw new CliException($"--attacks: '{unknown}' is not one of {string.Join(", ", Attacks)}");
            double span = pr.GetValue(seconds), pause = pr.GetValue(settle);
            int many = pr.GetValue(workers), sources = pr.GetValue(addresses);
            if (span <= 0 || span > 3600 || pause < 0 || pause > 3600 || many < 1 || many > 100_000 || sources < 1 || sources > 250)
                throw new CliException("0 < --seconds ≤ 3600, 0 ≤ --settle ≤ 3600, 1 ≤ --workers ≤ 100000 and 1 ≤ --addresses ≤ 250");
            if (chosen.Contains("logins")) CheckSourceAddress(IPAddress.Parse($"127.0.0.{sources + 1}"));
            string dir = BenchFigures.FreshFolder("bench-memory-attacks");
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["attacks"] = string.Join(',', chosen),
                ["seconds"] = span,
                ["workers"] = many,
                ["addresses"] = sources,
                ["settle_s"] = pause,
            });
            string serverLog = Path.Combine(dir, "server.log");
            await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"), [], serverLog, ct);
            using var control = new ControlClient(new ConnectionOptions(server.Address, server.AdminToken, server.CaFile));
            var processes = new List<NodeProcess>();
            try
            {
                await RoundOverheadBench.StartEmptyNodesAsync(server, control, processes, 1, dir, ["values=1000"], ct);
                string token = await control.CreateNodeTokenAsync(Intruder, ct);
                string session = Guid.NewGuid().ToString("N");
                using var fleet = GrpcChannels.Create(new ConnectionOptions(server.Address, token, server.CaFile));
                var client = new Fleet.FleetClient(fleet);
                await client.RegisterAsync(new RegisterRequest { NodeName = Intruder, App = "empty", Version = "bench", ProtocolVersion = 1, SessionId = session, Capacity = 1 }, cancellationToken: ct);
                await Task.Delay(TimeSpan.FromSeconds(3), ct);
                int warningsBefore = SoakBench.ServerWarnings(serverLog).Count;
                foreach (string attack in chosen)
                {
                    Console.WriteLine($"attack {attack}: {span:0.#} s, {many} calls at once");
                    await RunAttackAsync(attack, server, control, processes[0].Name, token, span, many, sources, pause, figures, ct);
                }
                await client.LeaveAsync(new LeaveRequest { NodeName = Intruder, SessionId = session }, cancellationToken: ct);

                // The server still does its work: a short run on the honest node.
                var clock = Stopwatch.StartNew();
                var run = await control.SubmitAsync("""
                    name: bench-memory-attacks
                    app: { name: empty }
                    strategy: { name: fedavg }
                    rounds: 3
                    selection: { min_available: 1, min_fit: 1, fraction_fit: 1.0, fraction_evaluate: 0.0 }
                    round_timeout: 60s
                    """, "bench", ct);
                var detail = await RoundOverheadBench.WaitAsync(control, run.Id, ct);
                Print(figures, "after.run_rounds_done", detail.Run.RoundsDone);
                Print(figures, "after.run_seconds", clock.Elapsed.TotalSeconds);
                var warnings = SoakBench.ServerWarnings(serverLog).Skip(warningsBefore).ToArray();
                Print(figures, "server.log_warnings", warnings.Count(l => l.Contains("warn:", StringComparison.Ordinal)));
                Print(figures, "server.log_errors", warnings.Count(l => !l.Contains("warn:", StringComparison.Ordinal)));
                Print(figures, "server.log_stack_traces", CountStackTraces(serverLog));
                Print(figures, "server.peak_rss_mib", server.Memory().Peak);
                Print(figures, "honest_node.running", processes[0].IsRunning ? 1 : 0);
            }
            finally
            {
                foreach (var p in processes) await p.DisposeAsync();
            }
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    private static async Task RunAttackAsync(string attack, ServerProcess server, ControlClient control, string honest, string token, double seconds, int workers, int sources,
        double settle, JsonObject figures, CancellationToken ct)
    {
        var callers = attack == "logins"
            ? Enumerable.Range(0, sources).Select(i => new AttackCalls(server.Address, IPAddress.Parse($"127.0.0.{i + 2}"))).ToArray()
            : [new AttackCalls(server.Address, IPAddress.Loopback)];
        // A plain pull waits for a task as long as the attack goes on (at least 2 s; the server caps it at 30 s) and carries
        // 60 KB the server does not know.
        var pull = AttackCalls.Padded(new PullTaskRequest { NodeName = Intruder, WaitMs = (int)(Math.Clamp(seconds, 2, 30) * 1000) }, 60_000);
        // What each call sends: its method, its token, the length its frame announces and the bytes it carries. A login stays
        // within the 64 KiB a message without a token may have, so that only the deadline ends it.
        var (method, callerToken, announced, body) = attack switch
        {
            "logins" => ("/cohort.v1.Control/Login", null, 64_000, new byte[60_000]),
            "pulls" => ("/cohort.v1.Fleet/PullTask", token, pull.Length, pull),
            _ => ("/cohort.v1.Fleet/Heartbeat", (string?)token, 8000, new byte[4000]),
        };
        // Afterwards one whole, ordinary message from the same caller: a slot the attack left taken would refuse it.
        byte[] probe = attack switch
        {
            "logins" => new LoginRequest { User = "bench-probe", Password = "not the password" }.ToByteArray(),
            "pulls" => new PullTaskRequest { NodeName = Intruder, WaitMs = 0 }.ToByteArray(),
            _ => new HeartbeatRequest { NodeName = Intruder }.ToByteArray(),
        };
        try
        {
            double before = server.Memory().Rss;
            using var watching = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var peak = WatchPeakAsync(server, watching.Token);
            var offline = WatchHonestNodeAsync(control, honest, watching.Token);
            var statuses = new ConcurrentDictionary<string, int>();
            int cut = 0;
            // Each held call's start and end on the attack's clock, to count how many the server held at once.
            var held = new ConcurrentBag<(TimeSpan Start, TimeSpan End)>();
            var end = TimeSpan.FromSeconds(seconds);
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, workers).Select(async w =>
            {
                var caller = callers[w % callers.Length];
                while (clock.Elapsed < end)
                {
                    var started = clock.Elapsed;
                    var (status, message, _) = await caller.SendAsync(method, callerToken, announced, body, ct);
                    statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                    if (status is "8" or AttackCalls.Calm or "") continue;
                    held.Add((started, clock.Elapsed));
                    if (message.Contains("did not arrive in full", StringComparison.Ordinal)) Interlocked.Increment(ref cut);
                }
            }));
            double attackSeconds = clock.Elapsed.TotalSeconds;
            await watching.CancelAsync();
            double peakRss = Math.Max(before, await peak);
            int offlinePolls = await offline;
            await Task.Delay(TimeSpan.FromSeconds(settle), ct);
            int Count(string status) => statuses.TryGetValue(status, out int n) ? n : 0;
            string p = attack;
            Print(figures, $"{p}.seconds", attackSeconds);
            Print(figures, $"{p}.calls", statuses.Values.Sum());
            Print(figures, $"{p}.refused", Count("8"));
            Print(figures, $"{p}.reset_by_http2", Count(AttackCalls.Calm));
            Print(figures, $"{p}.failed_otherwise", Count(""));
            Print(figures, $"{p}.held", held.Count);
            Print(figures, $"{p}.held_cut_at_deadline", cut);
            Print(figures, $"{p}.held_at_once_max", AtOnce(held));
            Print(figures, $"{p}.held_max_s", held.IsEmpty ? 0 : held.Max(h => (h.End - h.Start).TotalSeconds));
            Print(figures, $"{p}.server_rss_before_mib", before);
            Print(figures, $"{p}.server_rss_peak_mib", peakRss);
            Print(figures, $"{p}.server_rss_after_mib", server.Memory().Rss);
            Print(figures, $"{p}.honest_node_offline_polls", offlinePolls);
            var (probeStatus, probeMessage, _) = await callers[0].SendAsync(method, callerToken, probe.Length, probe, ct);
            Console.WriteLine($"{p}.probe_after: status {(probeStatus.Length == 0 ? "none" : probeStatus)} {probeMessage}");
            Print(figures, $"{p}.probe_after_status", int.TryParse(probeStatus, out int code) ? code : -1);
            foreach (var (status, n) in statuses.Where(s => s.Key is not ("8" or "3" or "" or AttackCalls.Calm)).OrderBy(s => s.Key, StringComparer.Ordinal))
                Print(figures, $"{p}.status_{status}", n);
        }
        finally
        {
            foreach (var c in callers) c.Dispose();
        }
    }

    // The logins come from 127.0.0.2 on: Linux answers on all of 127.0.0.0/8, other systems only on 127.0.0.1.
    private static void CheckSourceAddress(IPAddress address)
    {
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(address, 0));
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new CliException($"--addresses: cannot send from {address} ({e.Message}); this system does not answer on 127.0.0.2 and on: use --addresses 1 or --attacks pulls,heartbeats");
        }
    }

    // The most calls the server held at one moment. The attacker sees a call end a little after the server let it go, and
    // the next one start a little before the server takes it: each call counts from its start until half a second
    // before its answer reached the attacker (held calls last 2 s or more), starts and ends swept in time order.
    private static int AtOnce(IEnumerable<(TimeSpan Start, TimeSpan End)> calls)
    {
        var slack = TimeSpan.FromSeconds(0.5);
        int open = 0, most = 0;
        foreach (var (_, step) in calls.SelectMany(c => new[] { (c.Start, 1), (c.End - slack > c.Start ? c.End - slack : c.Start, -1) }).OrderBy(e => e.Item1).ThenBy(e => e.Item2))
            most = Math.Max(most, open += step);
        return most;
    }

    // The server's resident memory, read every 50 ms: its highest until cancelled.
    private static async Task<double> WatchPeakAsync(ServerProcess server, CancellationToken ct)
    {
        double peak = 0;
        while (!ct.IsCancellationRequested)
        {
            if (server.Memory().Rss is var rss && double.IsFinite(rss)) peak = Math.Max(peak, rss);
            try
            {
                await Task.Delay(50, ct);
            }
            catch (OperationCanceledException)
            {
            }
        }
        return peak;
    }

    // Once a second the operator's node list: how many times it did not show the honest node online (or did not answer).
    private static async Task<int> WatchHonestNodeAsync(ControlClient control, string honest, CancellationToken ct)
    {
        int offline = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var nodes = await control.ListNodesAsync(ct);
                if (!nodes.Any(n => n.Name == honest && n.TypedStatus().IsConnected())) offline++;
            }
            catch (Exception e) when (e is CliException or Grpc.Core.RpcException or OperationCanceledException)
            {
                // A list cut short by the end of the watch says nothing of the node.
                if (ct.IsCancellationRequested) break;
                offline++;
            }
            try
            {
                await Task.Delay(1000, ct);
            }
            catch (OperationCanceledException)
            {
            }
        }
        return offline;
    }

    // Log entries that carry a stack trace: the frames on lines of their own ("   at …(…)"), counted once per run of them,
    // or after the message on its line.
    private static int CountStackTraces(string log)
    {
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        int entries = 0;
        bool inTrace = false;
        while (reader.ReadLine() is { } line)
        {
            bool frame = StackFrame.IsMatch(line);
            if (frame && (!inTrace || !line.TrimStart().StartsWith("at ", StringComparison.Ordinal))) entries++;
            inTrace = frame;
        }
        return entries;
    }

    private static readonly System.Text.RegularExpressions.Regex StackFrame = new(@"(^|\s)at [\w.`<>|\[\],]+\(", System.Text.RegularExpressions.RegexOptions.Compiled);

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
