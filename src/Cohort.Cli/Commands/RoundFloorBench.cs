using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Cohort.Cli.Demo;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench round-floor</c>: how much a round's duration spreads on this machine whatever runs the round. A
/// coordinator and N processes of this program exchange one byte a round over loopback TCP, on one thread each with
/// blocking sockets (no TLS, gRPC, thread pool or disk), the coordinator spending a set CPU time per round and each peer
/// another. Each coordinator CPU time given is measured in turn, with the same peers and, when asked, the same
/// background load as <c>cohort bench round-overhead --load</c>. The spread it finds is the floor for a federation's
/// round of that CPU cost on the machine: a real server's is above it.
/// </summary>
internal static partial class RoundFloorBench
{
    private const int WarmUpRounds = 50;

    /// <summary>The longest CPU time per round <c>--work-ms</c> takes: a round of ten seconds is no longer a round's overhead.</summary>
    private const double MaxWorkMs = 10_000;

    /// <summary>How long the coordinator waits for a peer's answer before it gives up on the measurement.</summary>
    private static readonly TimeSpan PeerSilence = TimeSpan.FromSeconds(30);

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Peer processes", DefaultValueFactory = _ => 4 };
        var rounds = new Option<int>("--rounds") { Description = "Measured rounds per coordinator CPU time (after 50 warm-up rounds)", DefaultValueFactory = _ => 2000 };
        var work = new Option<string>("--work-ms") { Description = "The coordinator's CPU time per round, in ms; a comma-separated list is measured in turn", DefaultValueFactory = _ => "0,0.5,1,2,3,5,8" };
        var nodeWork = new Option<double>("--node-work-ms") { Description = "Each peer's CPU time per round, in ms", DefaultValueFactory = _ => 0.3 };
        var load = new Option<int>("--load") { Description = "Busy background processes to start for the measurement (0: none)", DefaultValueFactory = _ => 0 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        // How the coordinator starts its peers: this program again, connecting back to it.
        var peer = new Option<int?>("--peer") { Description = "Run as a peer of the coordinator listening on this loopback port", Hidden = true };
        var command = new Command("round-floor", "The spread of a round's duration on this machine whatever runs it: a coordinator and N processes exchanging a byte a round over loopback TCP, each spending a set CPU time per round")
        {
            nodes, rounds, work, nodeWork, load, json, peer,
        };
        command.SetAction(async (pr, ct) =>
        {
            double peerWork = pr.GetValue(nodeWork);
            if (pr.GetValue(peer) is { } port)
            {
                RunPeer(port, peerWork);
                return 0;
            }
            int n = pr.GetValue(nodes), r = pr.GetValue(rounds), busy = pr.GetValue(load);
            if (n < 1 || n > 64 || r < 10 || busy < 0 || peerWork is < 0 or > MaxWorkMs) throw new CliException($"--nodes 1–64, --rounds ≥ 10, --node-work-ms 0–{MaxWorkMs} and --load ≥ 0");
            double[] levels = ParseWork(pr.GetValue(work)!);
            var figures = BenchFigures.Begin(new JsonObject
            {
                ["nodes"] = n,
                ["rounds"] = r,
                ["work_ms"] = new JsonArray(levels.Select(w => (JsonNode)w).ToArray()),
                ["node_work_ms"] = peerWork,
                ["background_load_processes"] = busy,
                // The peers and the coordinator spin on their thread's CPU clock; on a system without one, on the wall clock.
                ["spin_clock"] = ThreadCpuNanoseconds() is null ? "wall" : "thread_cpu",
            });
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(n);
            int listening = ((IPEndPoint)listener.LocalEndPoint!).Port;
            var peers = new List<Process>();
            var background = new List<Process>();
            var sockets = new List<Socket>();
            try
            {
                for (int i = 0; i < n; i++) peers.Add(StartPeer(listening, peerWork));
                using (var accepting = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    accepting.CancelAfter(TimeSpan.FromSeconds(60));
                    for (int i = 0; i < n; i++)
                    {
                        Socket accepted;
                        try
                        {
                            accepted = await listener.AcceptAsync(accepting.Token);
                        }
                        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                        {
                            throw new CliException($"only {i} of {n} peer processes connected within 60s");
                        }
                        accepted.NoDelay = true;
                        accepted.ReceiveTimeout = (int)PeerSilence.TotalMilliseconds;
                        sockets.Add(accepted);
                    }
                }
                for (int i = 0; i < busy; i++) background.Add(RoundOverheadBench.StartBusyProcess());
                foreach (double level in levels)
                {
                    ct.ThrowIfCancellationRequested();
                    var intervals = Measure(sockets, r, level, ct);
                    string prefix = $"floor.work_{level.ToString("0.###", CultureInfo.InvariantCulture)}ms";
                    var s = Spread.Of(intervals);
                    BenchFigures.Print(figures, $"{prefix}.interval_ms.p10", s.P10);
                    BenchFigures.Print(figures, $"{prefix}.interval_ms.median", s.Median);
                    BenchFigures.Print(figures, $"{prefix}.interval_ms.p90", s.P90);
                    BenchFigures.Print(figures, $"{prefix}.p90_over_p10", s.P90 / s.P10);
                    BenchFigures.Print(figures, $"{prefix}.p90_minus_p10_ms", s.P90 - s.P10);
                }
            }
            finally
            {
                foreach (var p in background) RoundOverheadBench.StopBusyProcess(p);
                // A peer ends when its socket closes; one that does not is killed.
                foreach (var s in sockets) s.Dispose();
                foreach (var p in peers)
                {
                    if (!p.WaitForExit(5000)) p.Kill();
                    p.Dispose();
                }
            }
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return 0;
        });
        return command;
    }

    /// <summary>The coordinator CPU times of <c>--work-ms</c>: non-negative milliseconds, comma-separated.</summary>
    internal static double[] ParseWork(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new CliException("--work-ms: give at least one CPU time in ms");
        return parts.Select(p => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0 && v <= MaxWorkMs
            ? v
            : throw new CliException($"--work-ms: '{p}' is not a CPU time in ms (a number from 0 to {MaxWorkMs})")).ToArray();
    }

    /// <summary>
    /// Runs warm-up and measured rounds: a byte to every peer, every reply read, then the coordinator's own CPU time. Returns
    /// the finish-to-finish interval of each measured round, in ms.
    /// </summary>
    private static double[] Measure(IReadOnlyList<Socket> peers, int rounds, double workMs, CancellationToken ct)
    {
        var intervals = new double[rounds];
        Span<byte> one = stackalloc byte[1];
        long last = Stopwatch.GetTimestamp();
        for (int round = 0; round < WarmUpRounds + rounds; round++)
        {
            // Stopped (Ctrl+C, SIGTERM): the caller's cleanup stops the background load and the peers.
            ct.ThrowIfCancellationRequested();
            one[0] = (byte)round;
            foreach (var s in peers) s.Send(one);
            foreach (var s in peers)
            {
                int read;
                try
                {
                    read = s.Receive(one);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
                {
                    throw new CliException($"a peer process did not answer within {PeerSilence.TotalSeconds:0}s");
                }
                if (read != 1) throw new CliException("a peer process closed its connection mid-measurement");
            }
            Spin(workMs);
            long now = Stopwatch.GetTimestamp();
            if (round >= WarmUpRounds) intervals[round - WarmUpRounds] = Stopwatch.GetElapsedTime(last, now).TotalMilliseconds;
            last = now;
        }
        return intervals;
    }

    /// <summary>A peer: connects to the coordinator, then answers each byte after spending its CPU time, until the connection closes.</summary>
    private static void RunPeer(int port, double workMs)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        Span<byte> one = stackalloc byte[1];
        try
        {
            while (socket.Receive(one) == 1)
            {
                Spin(workMs);
                socket.Send(one);
            }
        }
        catch (SocketException)
        {
            // The coordinator went away: the measurement is over.
        }
    }

    private static Process StartPeer(int port, double workMs)
    {
        var psi = NodeProcess.StartInfo(null, ["bench", "round-floor", "--peer", port.ToString(CultureInfo.InvariantCulture), "--node-work-ms", workMs.ToString("R", CultureInfo.InvariantCulture)]);
        return Process.Start(psi) ?? throw new CliException("could not start a peer process");
    }

    /// <summary>
    /// Keeps this thread busy until it has spent <paramref name="ms"/> milliseconds of CPU time: like a server's work, it
    /// takes longer when the thread loses its core meanwhile. (Wall time where the thread's CPU clock cannot be read.)
    /// </summary>
    private static void Spin(double ms)
    {
        if (ms <= 0) return;
        long ns = (long)(ms * 1_000_000);
        if (ThreadCpuNanoseconds() is { } start)
        {
            while (ThreadCpuNanoseconds() - start < ns)
            {
            }
            return;
        }
        long until = Stopwatch.GetTimestamp() + (long)(ms * Stopwatch.Frequency / 1000);
        while (Stopwatch.GetTimestamp() < until)
        {
        }
    }

    private const int ClockThreadCpuTime = 3;

    private static long? ThreadCpuNanoseconds()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return ClockGetTime(ClockThreadCpuTime, out var t) == 0 ? t.Seconds * 1_000_000_000 + t.Nanoseconds : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl names its C library otherwise): the wall clock then.
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc.so.6", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

}
