using System.Diagnostics;
using System.Text;

namespace Cohort.Integration.Tests.Infrastructure;

/// <summary>The real <c>cohort</c> program (built next to the tests) run as a child process.</summary>
public sealed class CliProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private CliProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Everything printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>Operating-system process id.</summary>
    public int Id => _process.Id;

    /// <summary>The highest resident memory the process ever had (VmHWM), in MiB.</summary>
    public double PeakMib()
    {
        foreach (var line in File.ReadLines($"/proc/{Id}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        }
        throw new InvalidOperationException($"no VmHWM for process {Id}");
    }

    /// <summary>True while running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Exit code (after exit).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <c>cohort ARGS</c> with extra environment variables (in <paramref name="workingDirectory"/> when given).</summary>
    public static CliProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null) =>
        StartProgram(Path.Combine(AppContext.BaseDirectory, "cohort.dll"), args, environment, workingDirectory);

    /// <summary>Starts <c>dotnet PROGRAM.dll ARGS</c> (a program built next to the tests) with extra environment variables.</summary>
    public static CliProcess StartProgram(string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        return new CliProcess(Process.Start(psi)!);
    }

    /// <summary>Runs <c>cohort ARGS</c> to completion; returns exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<string> args, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        await using var p = Start(args, environment);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        await p._process.WaitForExitAsync(cts.Token);
        p._process.WaitForExit();
        return (p.ExitCode, p.Output);
    }

    /// <summary>Starts a node process for <paramref name="server"/>.</summary>
    public static CliProcess StartNode(TestServer server, string name, string token, string app, params string[] extra)
    {
        var args = new List<string> { "node", "--server", server.Host.Address.ToString(), "--name", name, "--app", app, "--ca", server.Host.CaFile! };
        args.AddRange(extra);
        return Start(args, new Dictionary<string, string> { ["COHORT_NODE_TOKEN"] = token });
    }

    /// <summary>
    /// Waits until the output contains <paramref name="text"/>: lines printed after the one a caller
    /// waited for may still be in the pipe. Fails naming the text, with the output, after the timeout.
    /// </summary>
    public async Task WaitForOutputAsync(string text, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"'{text}' not printed within {timeout ?? TimeSpan.FromSeconds(30)}:\n{Output}");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// The token in the output of <c>cohort token create</c>: the one line that is a token. Standard
    /// output and standard error are read separately, so a note on standard error may come before or after it.
    /// </summary>
    public static string TokenIn(string output) =>
        Assert.Single(output.Split('\n').Select(l => l.Trim()), l => l.Length == 43 && l.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));

    /// <summary>Waits for the process to exit.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Kills the process at once, as a crash or power cut would.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
    }

    /// <summary>Freezes the process (SIGSTOP), as a hung machine or a debugger would: it keeps its connections and says nothing.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>Lets a process frozen by <see cref="PauseAsync"/> go on (SIGCONT), where it left off.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -{signal} {Id} exited with {kill.ExitCode}");
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
