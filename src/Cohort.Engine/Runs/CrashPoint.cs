using System.Diagnostics;

namespace Cohort.Engine.Runs;

/// <summary>
/// Test-only: kills the server process at a named point of a round, as <c>kill -9</c> would, so that tests
/// can crash a real server at a chosen moment and check that it resumes exactly. Off unless the environment
/// variable <c>COHORT_TEST_CRASH_AT</c> names points as <c>PHASE:ROUND</c> (comma-separated); not a user
/// setting. Phases: <c>configure</c> (tasks chosen, none sent), <c>result</c> (a fit result kept, before it is
/// folded in), <c>aggregate</c> (all results in, before the model is computed), <c>checkpoint</c> (the round's
/// model written, its strategy state not yet), <c>evaluate</c> (model and state written, evaluation under way).
/// </summary>
internal static class CrashPoint
{
    /// <summary>The environment variable that names the points.</summary>
    public const string Variable = "COHORT_TEST_CRASH_AT";

    private static readonly HashSet<string> Points = Read(Environment.GetEnvironmentVariable(Variable));

    /// <summary>Kills this process when <paramref name="phase"/> of <paramref name="round"/> is one of the points; otherwise does nothing.</summary>
    public static void Reach(string phase, int round)
    {
        if (Points.Count == 0 || !Points.Contains($"{phase}:{round}")) return;
        Console.Error.WriteLine($"{Variable}: killing the server at {phase}:{round}");
        Console.Error.Flush();
        // SIGKILL, like kill -9: no finally blocks, no flushes, no shutdown hooks.
        Process.GetCurrentProcess().Kill();
        Thread.Sleep(Timeout.Infinite);
    }

    private static HashSet<string> Read(string? value) =>
        string.IsNullOrWhiteSpace(value)
            ? []
            : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
}
