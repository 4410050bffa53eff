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
        Address = $"https://localhost:{port}";
    }

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

    /// <summary>Starts a server in <paramref name="dataDir"/> (no dashboard) and waits until its port accepts connections.</summary>
    public static async Task<ServerProcess> StartAsync(string dataDir, IEnumerable<string> extraArguments, string logFile, CancellationToken ct)
    {
        int port = FreePort();
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in NodeProcess.SelfCommand()) psi.ArgumentList.Add(arg);
        psi.FileName = psi.ArgumentList[0];
        psi.ArgumentList.RemoveAt(0);
        foreach (var a in new[] { "server", "--data-dir", dataDir, "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dashboard-port", "-1" })
            psi.ArgumentList.Add(a);
        foreach (var a in extraArguments) psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new CliException("could not start the server process");
        var log = new StreamWriter(logFile) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, log, dataDir, port);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (process.HasExited) throw new CliException($"the server process exited with status {process.ExitCode}; see {logFile}");
            if (File.Exists(Path.Combine(dataDir, "admin.token")) && await AcceptsAsync(port, ct)) return server;
            if (DateTime.UtcNow > deadline)
            {
                await server.DisposeAsync();
                throw new CliException($"the server did not open port {port} within 60s; see {logFile}");
            }
            await Task.Delay(50, ct);
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
    /// The resident memory of process <paramref name="pid"/> split as /proc reports it, in MiB: anonymous
    /// (heaps, stacks: what a leak grows) and file-backed (code and mapped files paged in as they are used).
    /// </summary>
    public static (double Anonymous, double File) ReadSplit(int pid)
    {
        double anonymous = double.NaN, file = double.NaN;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anonymous = Kib(line) / 1024;
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kib(line) / 1024;
            }
        }
        catch (IOException)
        {
        }
        return (anonymous, file);
    }

    private static double Kib(string line) =>
        double.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
}
