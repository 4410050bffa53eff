using System.Diagnostics;
using System.Globalization;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>
/// What a demo or bench starts (a server, node processes, background load) stops when that parent is killed outright:
/// each child's standard input is a pipe from the parent, which the kernel closes however the parent ends.
/// </summary>
public sealed class ParentLifelineTests
{
    [Fact]
    public async Task A_bench_killed_outright_leaves_no_server_node_or_load_running()
    {
        string dir = Directory.CreateTempSubdirectory("cohort-lifeline-").FullName;
        var seen = new Dictionary<int, string>();
        // Disposed after what is left of its children is killed: a child still holding the bench's output would keep it waiting.
        var bench = CliProcess.Start(["bench", "round-overhead", "--nodes", "2", "--rounds", "1000000", "--load", "1"], workingDirectory: dir);
        try
        {

            // The server, both nodes and the busy shell are the bench's children; the busy loop, a subshell, is the shell's.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (true)
            {
                foreach (int pid in Descendants(bench.Id)) seen.TryAdd(pid, CommandLine(pid));
                bool ready = seen.Values.Count(c => c.Contains(" server ", StringComparison.Ordinal)) == 1
                    && seen.Values.Count(c => c.Contains(" node ", StringComparison.Ordinal)) == 2
                    && seen.Values.Count(c => c.StartsWith("/bin/sh", StringComparison.Ordinal)) >= 2;
                if (ready) break;
                Assert.True(bench.IsRunning, $"the bench ended early:\n{bench.Output}");
                Assert.True(DateTime.UtcNow < deadline, $"the bench's processes did not all start within 90s: {string.Join("; ", seen.Values)}\n{bench.Output}");
                await Task.Delay(100);
            }

            // SIGKILL to the bench alone: no cleanup of its own runs, and its children are not signalled.
            using (var parent = Process.GetProcessById(bench.Id)) parent.Kill(entireProcessTree: false);

            var stopBy = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (seen.Keys.Any(IsAlive) && DateTime.UtcNow < stopBy) await Task.Delay(100);
            var left = seen.Where(p => IsAlive(p.Key)).Select(p => $"{p.Key}: {p.Value}").ToArray();
            Assert.True(left.Length == 0, $"still running 30s after the bench was killed: {string.Join("; ", left)}");
        }
        finally
        {
            foreach (int pid in seen.Keys.Where(IsAlive))
            {
                try
                {
                    using var p = Process.GetProcessById(pid);
                    p.Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    // Gone meanwhile.
                }
            }
            await bench.DisposeAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_server_given_the_variable_without_a_pipe_ignores_it_and_keeps_running()
    {
        string dir = Directory.CreateTempSubdirectory("cohort-lifeline-").FullName;
        // As a service would start it: standard input /dev/null, the variable leaked in from elsewhere.
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec dotnet \"$0\" server --port 0 --dashboard-port -1 --data-dir \"$1\" < /dev/null");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "cohort.dll"));
        psi.ArgumentList.Add(Path.Combine(dir, "data"));
        psi.Environment["COHORT_LIFELINE"] = "stdin";
        using var server = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        server.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        server.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        string Output()
        {
            lock (output) return output.ToString();
        }
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!Output().Contains("listening on", StringComparison.Ordinal))
            {
                Assert.False(server.HasExited, $"the server stopped:\n{Output()}");
                Assert.True(DateTime.UtcNow < deadline, $"the server did not start within 60s:\n{Output()}");
                await Task.Delay(100);
            }
            Assert.Contains("COHORT_LIFELINE is set but standard input is not a pipe from a parent process; ignoring it", Output());
            // End-of-file on /dev/null came at once: a lifeline taken from it would have stopped the server by now.
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.False(server.HasExited, $"the server stopped:\n{Output()}");
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    // Children and their children, from each process's parent id in /proc.
    private static List<int> Descendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (Stat(pid) is { } stat) parents[pid] = stat.Parent;
        }
        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out int next))
        {
            foreach (var (pid, parent) in parents)
            {
                if (parent != next) continue;
                found.Add(pid);
                frontier.Enqueue(pid);
            }
        }
        return found;
    }

    // A process that exited but was not reaped yet (state Z) is gone too.
    private static bool IsAlive(int pid) => Stat(pid) is { } stat && stat.State != 'Z';

    private static (char State, int Parent)? Stat(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so read after its last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }
}
