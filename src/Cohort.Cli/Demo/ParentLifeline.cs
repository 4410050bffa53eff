using System.Diagnostics;

namespace Cohort.Cli.Demo;

/// <summary>
/// Ties a child process's life to the cohort process that started it (the demo, a bench, the fuzzer). The parent gives
/// the child a pipe as standard input and never writes to it; when the parent ends, however it ends (SIGKILL too), the
/// kernel closes the pipe's other end, the child reads end-of-file and stops as it would on Ctrl+C. Without this, a
/// demo or bench killed outright left its server and nodes running, holding their ports and the run.
/// A process started by hand (a site's <c>cohort node</c>, a service's <c>cohort server</c>) has no lifeline and watches nothing.
/// </summary>
internal static class ParentLifeline
{
    /// <summary>The environment variable that tells a child its standard input is its parent's lifeline.</summary>
    public const string Variable = "COHORT_LIFELINE";

    /// <summary>How long a child whose parent is gone has to stop on its own before it exits regardless.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(60);

    /// <summary>Gives the child started with <paramref name="psi"/> a lifeline: a pipe for standard input, and the variable.</summary>
    public static void Attach(ProcessStartInfo psi)
    {
        psi.RedirectStandardInput = true;
        psi.Environment[Variable] = "stdin";
    }

    /// <summary>
    /// In a child with a lifeline: a token cancelled when the parent is gone (this process then exits after
    /// <see cref="Grace"/> if it has not stopped by itself). Elsewhere a token that is never cancelled.
    /// </summary>
    public static CancellationToken Watch()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "stdin") return CancellationToken.None;
        // This process's own children get their own lifelines, or none: not this one's standard input.
        Environment.SetEnvironmentVariable(Variable, null);
        if (!InputIsPipe())
        {
            // The variable came from elsewhere (an environment file copied from a child, say): a server with /dev/null for
            // input would stop at once, and one at a terminal would eat its keystrokes.
            Console.Error.WriteLine($"cohort: {Variable} is set but standard input is not a pipe from a parent process; ignoring it");
            return CancellationToken.None;
        }
        var gone = new CancellationTokenSource();
        var watcher = new Thread(() =>
        {
            WaitForEndOfInput();
            gone.Cancel();
            Thread.Sleep(Grace);
            Console.Error.WriteLine($"cohort: the parent process is gone and this one did not stop within {Grace.TotalSeconds:F0}s; exiting");
            Environment.Exit(130);
        })
        { IsBackground = true, Name = "Parent lifeline" };
        watcher.Start();
        return gone.Token;
    }

    // A pipe, as a parent's Attach gives (on Linux read from /proc; elsewhere any redirected input counts).
    private static bool InputIsPipe()
    {
        if (!Console.IsInputRedirected) return false;
        if (!OperatingSystem.IsLinux()) return true;
        try
        {
            return new FileInfo("/proc/self/fd/0").LinkTarget?.StartsWith("pipe:", StringComparison.Ordinal) == true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void WaitForEndOfInput()
    {
        try
        {
            using var input = Console.OpenStandardInput();
            var buffer = new byte[256];
            // The parent writes nothing; whatever arrives is ignored until the pipe ends.
            while (input.Read(buffer, 0, buffer.Length) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A broken pipe ends it the same way.
        }
    }
}
