using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Cohort.Cli.Demo;

/// <summary>A <c>cohort server</c> child process on a free loopback port, so its memory can be measured apart from the caller's.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ServerProcess(Process process, StreamWriter log, string dataDir, int port)
    {
        _process = process;
        _log = log;
        DataDir = dataDir;
        Port = port;
        Address = $"https://localhost:{port}";
    }

    /// <summary>The loopback port of the Fleet and Control APIs.</summary>
    public int Port { get; }

    /// <summary>The server's data folder.</summary>
    public string DataDir { get; }

    /// <summary>Fleet and Control API address.</summary>
    public string Address { get; }

    /// <summary>Process id.</summary>
    public int Id => _process.Id;

    /// <summary>The CA nodes and operators trust.</summary>
    public string CaFile => Path.Combine(DataDir, "tls", "ca.crt");

    /// <summary>The admin token the server wrote.</summary>
    public string AdminToken => File.ReadAllText(Path.Combine(DataDir, "admin.token")).Trim();

    /// <summary>The server's memory pass options a bench passes on: each only when given.</summary>
    public static List<string> MemoryHygieneArguments(int? rounds, double? seconds)
    {
        var arguments = new List<string>();
        if (rounds is { } r) arguments.AddRange(["--memory-hygiene-rounds", r.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (seconds is { } s) arguments.AddRange(["--memory-hygiene-seconds", s.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        return arguments;
    }

    /// <summary>
    /// Starts a server in <paramref name="dataDir"/> (no dashboard unless <paramref name="dashboard"/>) on <paramref name="port"/>
    /// (a free one when null) and waits until its port accepts connections.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(string dataDir, IEnumerable<string> extraArguments, string logFile, CancellationToken ct, bool dashboard = false, int? port = null)
    {
        int listen = port ?? FreePort();
        var psi = NodeProcess.StartInfo(null,
            ["server", "--data-dir", dataDir, "--host", "127.0.0.1", "--port", listen.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dashboard-port", dashboard ? "0" : "-1", .. extraArguments],
            redirect: true);
        var process = Process.Start(psi) ?? throw new CliException("could not start the server process");
        var log = new StreamWriter(logFile) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, log, dataDir, listen);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (process.HasExited) throw new CliException($"the server process exited with status {process.ExitCode}; see {logFile}");
            try
            {
                if (File.Exists(Path.Combine(dataDir, "admin.token")) && await AcceptsAsync(listen, ct)) return server;
                if (DateTime.UtcNow > deadline) throw new CliException($"the server did not open port {listen} within 60s; see {logFile}");
                await Task.Delay(50, ct);
            }
            catch (Exception e) when (e is CliException or OperationCanceledException)
            {
                // Timed out or stopped while waiting: the half-started server goes too.
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Kills the server as a crash would (SIGKILL: no shutdown, no goodbye to its nodes) and waits until it is gone.</summary>
    public async Task CrashAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        // A process holding a thousand connections on a loaded machine takes a while to be torn down.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new CliException($"the server process {_process.Id} was killed but had not exited after 60s");
        }
    }

    /// <summary>Resident and peak resident memory of the server process in MiB (VmRSS, VmHWM).</summary>
    public (double Rss, double Peak) Memory() => ProcessMemory.Read(_process.Id);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<bool> AcceptsAsync(int port, CancellationToken ct)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, ct);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
        }
        _process.Dispose();
        lock (_log) _log.Dispose();
    }
}

/// <summary>Reads a process's memory from /proc.</summary>
internal static class ProcessMemory
{
    /// <summary>VmRSS and VmHWM of process <paramref name="pid"/> in MiB (NaN when unreadable).</summary>
    public static (double Rss, double Peak) Read(int pid)
    {
        double rss = double.NaN, peak = double.NaN;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kib(line) / 1024;
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kib(line) / 1024;
            }
        }
        catch (IOException)
        {
        }
        return (rss, peak);
    }

    /// <summary>
    /// Where process <paramref name="pid"/>'s resident memory is, in MiB: anonymous (heaps, JIT code),
    /// file-backed (mapped assemblies and native libraries, shareable with other processes running the
    /// same files), shared memory (the runtime's double-mapped JIT code), proportional set size, and
    /// private dirty pages (what the process alone holds and cannot drop). NaN when unreadable.
    /// </summary>
    public static (double Anon, double File, double Shmem, double Pss, double PrivateDirty) Breakdown(int pid)
    {
        double anon = double.NaN, file = double.NaN, shmem = double.NaN, pss = double.NaN, dirty = double.NaN;
        try
        {
            foreach (var line in System.IO.File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kib(line) / 1024;
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kib(line) / 1024;
                else if (line.StartsWith("RssShmem:", StringComparison.Ordinal)) shmem = Kib(line) / 1024;
            }
            foreach (var line in System.IO.File.ReadLines($"/proc/{pid}/smaps_rollup"))
            {
                if (line.StartsWith("Pss:", StringComparison.Ordinal)) pss = Kib(line) / 1024;
                else if (line.StartsWith("Private_Dirty:", StringComparison.Ordinal)) dirty = Kib(line) / 1024;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return (anon, file, shmem, pss, dirty);
    }

    private static double Kib(string line) =>
        double.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
}
