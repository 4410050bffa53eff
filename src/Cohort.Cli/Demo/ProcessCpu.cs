using System.Diagnostics;

namespace Cohort.Cli.Demo;

/// <summary>CPU time (user + system) a process has used so far, as the operating system counts it.</summary>
internal static class ProcessCpu
{
    /// <summary>CPU time of process <paramref name="id"/>; zero when it has exited.</summary>
    public static TimeSpan Read(int id)
    {
        try
        {
            using var process = Process.GetProcessById(id);
            return process.TotalProcessorTime;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>CPU time of several processes together.</summary>
    public static TimeSpan Sum(IEnumerable<int> ids) => ids.Aggregate(TimeSpan.Zero, (total, id) => total + Read(id));
}
