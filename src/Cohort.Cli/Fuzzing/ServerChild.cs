using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Cohort.Cli.Fuzzing;

/// <summary>This program's own <c>cohort server</c> started as a child process, so its crashes and memory can be watched from outside.</summary>
internal sealed partial class ServerChild : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerChild(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Fleet and Control address, once started.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the server printed.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>Starts <c>cohort server ARGS</c> and waits for its address.</summary>
    public static async Task<ServerChild> StartAsync(IEnumerable<string> args, CancellationToken ct)
    {
        var psi = Demo.NodeProcess.StartInfo(null, args, redirect: true);
        var child = new ServerChild(Process.Start(psi)!);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var m = Listening().Match(child.Output);
            if (m.Success)
            {
                child.Address = new Uri(m.Groups[1].Value);
                return child;
            }
            if (child.HasExited || DateTime.UtcNow > deadline)
            {
                await child.DisposeAsync();
                throw new CliException($"fuzz: the server did not start: {child.Output.Trim()}");
            }
            try
            {
                await Task.Delay(100, ct);
            }
            catch (OperationCanceledException)
            {
                // Stopped while waiting: the half-started server goes too.
                await child.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Resident memory of the server process in bytes (0 where /proc is missing or it has exited).</summary>
    public long ResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    [GeneratedRegex(@"listening on (\S+)")]
    private static partial Regex Listening();
}
