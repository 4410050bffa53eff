using System.Globalization;
using System.Text.RegularExpressions;
using Cohort.Engine.State;
using Cohort.Cli.Control;
using Cohort.Server.Hosting;
using Cohort.Transport.Channels;

namespace Cohort.Integration.Tests.Infrastructure;

/// <summary>
/// <c>cohort server</c> as its own process (TLS with a generated CA, ephemeral ports, a temporary data
/// folder): for checks that need the server's own memory, exit code or log lines.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private ServerProcess(CliProcess process, string dataDir, Uri address, Uri? dashboard)
    {
        Process = process;
        DataDir = dataDir;
        Address = address;
        DashboardAddress = dashboard;
        AdminToken = File.ReadAllText(CohortServerHost.AdminTokenFile(dataDir)).Trim();
        Control = new ControlClient(new ConnectionOptions(address.ToString(), AdminToken, Insecure ? null : CaFile, Insecure));
    }

    /// <summary>The process.</summary>
    public CliProcess Process { get; }

    /// <summary>Its data folder.</summary>
    public string DataDir { get; }

    /// <summary>Fleet and Control API address.</summary>
    public Uri Address { get; }

    /// <summary>Dashboard address.</summary>
    public Uri? DashboardAddress { get; }

    /// <summary>True when the server speaks plaintext (--insecure).</summary>
    public bool Insecure => Address.Scheme == "http";

    /// <summary>The generated admin token.</summary>
    public string AdminToken { get; }

    /// <summary>The generated CA nodes and operators trust.</summary>
    public string CaFile => Path.Combine(DataDir, "tls", "ca.crt");

    /// <summary>Control API client with the admin token.</summary>
    internal ControlClient Control { get; }

    /// <summary>Waits (up to two minutes) until <paramref name="count"/> nodes are online or busy; a timeout shows the node processes' output.</summary>
    internal async Task WaitForNodesAsync(int count, IReadOnlyList<CliProcess> nodes)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while ((await Control.ListNodesAsync(CancellationToken.None)).Count(n => n.Status is "online" or "busy") < count)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{count} nodes not online:\n{string.Join("\n", nodes.Select(n => n.Output))}");
            await Task.Delay(100);
        }
    }

    /// <summary>Starts a server process and waits until it prints its addresses.</summary>
    public static Task<ServerProcess> StartAsync(params string[] extra) =>
        StartInAsync(Path.Combine(Path.GetTempPath(), "cohort-srv-" + Guid.NewGuid().ToString("N")[..8]), 0, extra);

    /// <summary>Starts a server process on <paramref name="dataDir"/> (new or left by an earlier one) and <paramref name="port"/> (0: a free one).</summary>
    public static Task<ServerProcess> StartInAsync(string dataDir, int port, params string[] extra) => StartInAsync(dataDir, port, null, extra);

    /// <summary>Starts a server process on <paramref name="dataDir"/> and <paramref name="port"/> with extra environment variables.</summary>
    public static async Task<ServerProcess> StartInAsync(string dataDir, int port, IReadOnlyDictionary<string, string>? environment, params string[] extra)
    {
        var args = new List<string> { "server", "--port", port.ToString(CultureInfo.InvariantCulture), "--dashboard-port", "0", "--data-dir", dataDir };
        // A long node timeout unless the test sets its own.
        if (!extra.Contains("--node-timeout")) args.AddRange(["--node-timeout", "30"]);
        args.AddRange(extra);
        var process = CliProcess.Start(args, environment);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            string output = process.Output;
            var listening = Listening().Match(output);
            var dashboard = Dashboard().Match(output);
            if (listening.Success && dashboard.Success)
                return new ServerProcess(process, dataDir, new Uri(listening.Groups[1].Value), new Uri(dashboard.Groups[1].Value));
            if (!process.IsRunning || DateTime.UtcNow > deadline)
            {
                await process.DisposeAsync();
                throw new InvalidOperationException($"server process did not start:\n{output}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>The server process's resident memory in bytes (VmRSS from /proc).</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Process.Id}/status"))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException("no VmRSS line");
    }

    /// <summary>Kills the process and its children at once (as a crash would); the data folder stays for a restart.</summary>
    public async Task KillAsync()
    {
        Process.Kill();
        await Process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Control.Dispose();
    }

    /// <summary>Waits until the process ends by itself (as at a test crash point) and returns its exit code; the data folder stays for a restart.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        int code = await Process.WaitForExitAsync(timeout);
        Control.Dispose();
        return code;
    }

    /// <summary>Starts a node process for this server.</summary>
    public CliProcess StartNode(string name, string token, string app, params string[] extra)
    {
        var args = new List<string> { "node", "--server", Address.ToString(), "--name", name, "--app", app };
        if (Insecure) args.Add("--insecure");
        else args.AddRange(["--ca", CaFile]);
        args.AddRange(extra);
        return CliProcess.Start(args, new Dictionary<string, string> { ["COHORT_NODE_TOKEN"] = token });
    }

    /// <summary>Waits until <paramref name="count"/> nodes are online or busy; the deadline's error carries the node processes' output.</summary>
    public async Task WaitForNodesAsync(int count, IReadOnlyList<CliProcess> processes, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var nodes = await Control.ListNodesAsync(default);
            if (nodes.Count(n => n.Status is "online" or "busy") >= count) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{count} nodes not online\n{string.Join("\n", processes.Select(p => p.Output))}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until run <paramref name="id"/> is finished, failed or stopped, and returns its detail.</summary>
    internal async Task<Cohort.Transport.V1.RunDetail> WaitForRunAsync(string id, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(180));
        while (true)
        {
            var detail = await Control.GetAsync(id, default);
            if (detail.Run.TypedStatus().IsFinal()) return detail;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"run {id} still {detail.Run.Status} at round {detail.Run.RoundsDone}\n{Process.Output}");
            await Task.Delay(100);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Control.Dispose();
        await Process.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [GeneratedRegex(@"listening on (\S+)")]
    private static partial Regex Listening();

    [GeneratedRegex(@"dashboard:\s+(\S+)")]
    private static partial Regex Dashboard();
}
