using System.Diagnostics;

namespace Cohort.Cli.Demo;

/// <summary>A <c>cohort node</c> child process, its output going to a log file.</summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private NodeProcess(Process process, StreamWriter log, string name)
    {
        _process = process;
        _log = log;
        Name = name;
    }

    /// <summary>Node name.</summary>
    public string Name { get; }

    /// <summary>Process id.</summary>
    public int Id => _process.Id;

    /// <summary>True while running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>
    /// Starts this same program (or <paramref name="command"/>, from <see cref="CommandOf"/>) as a node; the token travels
    /// in the environment, not the command line.
    /// </summary>
    public static NodeProcess Start(string name, string token, IEnumerable<string> nodeArguments, string logFile, IReadOnlyList<string>? command = null)
    {
        var psi = StartInfo(command, nodeArguments.Prepend("node"), redirect: true);
        psi.Environment["COHORT_NODE_TOKEN"] = token;
        var process = Process.Start(psi) ?? throw new CliException($"could not start node process '{name}'");
        var log = new StreamWriter(logFile) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new NodeProcess(process, log, name);
    }

    /// <summary>
    /// The command that starts the cohort program at <paramref name="program"/>: the program, or <c>dotnet</c> and a
    /// <c>.dll</c>; this program again when it is null. Throws when there is no such file.
    /// </summary>
    public static IReadOnlyList<string>? CommandOf(string? program)
    {
        if (program is null) return null;
        string path = Path.GetFullPath(program);
        if (!File.Exists(path)) throw new CliException($"--node-program: no file at {path}");
        return path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? ["dotnet", path] : [path];
    }

    /// <summary>
    /// How to start <paramref name="command"/> (this program again when null, see <see cref="SelfCommand"/>) with
    /// <paramref name="arguments"/>; output not redirected unless <paramref name="redirect"/>. The child stops when this
    /// process is gone (<see cref="ParentLifeline"/>): keep its <see cref="Process"/> until it has exited, since the
    /// pipe closes with it.
    /// </summary>
    public static ProcessStartInfo StartInfo(IReadOnlyList<string>? command, IEnumerable<string> arguments, bool redirect = false)
    {
        var program = command ?? SelfCommand();
        var psi = new ProcessStartInfo(program[0]) { UseShellExecute = false, RedirectStandardOutput = redirect, RedirectStandardError = redirect };
        foreach (var arg in program.Skip(1).Concat(arguments)) psi.ArgumentList.Add(arg);
        ParentLifeline.Attach(psi);
        return psi;
    }

    /// <summary>The command that starts this program again: the apphost, or <c>dotnet cohort.dll</c>.</summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        string processPath = Environment.ProcessPath ?? throw new CliException("cannot tell which program is running");
        string entry = typeof(NodeProcess).Assembly.Location;
        return Path.GetFileNameWithoutExtension(processPath) == "dotnet" ? [processPath, entry] : [processPath];
    }

    /// <summary>Kills the process (a node holds no state worth a graceful stop).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Kill();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }
        _process.Dispose();
        lock (_log) _log.Dispose();
    }
}
