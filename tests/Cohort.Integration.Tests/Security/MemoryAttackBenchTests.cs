using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Security;

namespace Cohort.Integration.Tests.Security;

/// <summary>
/// <c>cohort bench memory-attacks</c> against a real server process: what the server holds of each attack stays within its
/// limits, the rest is refused, the honest node stays online and a run still completes.
/// </summary>
public sealed class MemoryAttackBenchTests
{
    [Fact]
    public async Task Each_attack_is_held_within_its_limit_the_rest_refused_and_the_server_keeps_working()
    {
        var bench = await BenchRun.RunAsync(["memory-attacks", "--seconds", "1", "--settle", "0", "--workers", "300", "--addresses", "2"], TimeSpan.FromMinutes(3));

        // Logins from two addresses, 150 calls at once from each: at most each address's share held at once, each until the
        // arrival deadline.
        Assert.True(bench.Figure("logins.refused") > 0, bench.Output);
        Assert.InRange(bench.Figure("logins.held_cut_at_deadline"), 1, 2 * ArrivingMessages.PerCaller);
        Assert.Equal(bench.Figure("logins.held"), bench.Figure("logins.held_cut_at_deadline"));
        Assert.InRange(bench.Figure("logins.held_at_once_max"), 1, 2 * ArrivingMessages.PerCaller);
        Assert.InRange(bench.Figure("logins.held_max_s"), ArrivingMessages.Deadline.TotalSeconds - 0.5, 40);
        // A node of capacity 1 may hold twice that and four more pulls; every other is refused before it waits.
        Assert.True(bench.Figure("pulls.refused") > 0, bench.Output);
        Assert.InRange(bench.Figure("pulls.held_at_once_max"), 1, 6);
        // A node's own share of messages still arriving.
        Assert.True(bench.Figure("heartbeats.refused") > 0, bench.Output);
        Assert.InRange(bench.Figure("heartbeats.held_at_once_max"), 1, ArrivingMessages.PerCaller);
        // After each attack one whole, ordinary message from the same caller is served, not refused: no slot stays taken.
        Assert.Equal(16, bench.Figure("logins.probe_after_status")); // Unauthenticated: a wrong password, checked
        foreach (string attack in new[] { "pulls", "heartbeats" })
            Assert.DoesNotContain(bench.Figure($"{attack}.probe_after_status"), new[] { 8.0, -1.0 });
        foreach (string attack in new[] { "logins", "pulls", "heartbeats" })
        {
            Assert.Equal(0, bench.Figure($"{attack}.honest_node_offline_polls"));
            Assert.True(bench.Figure($"{attack}.server_rss_peak_mib") < bench.Figure($"{attack}.server_rss_before_mib") + 400, bench.Output);
        }
        Assert.Equal(3, bench.Figure("after.run_rounds_done"));
        Assert.Equal(0, bench.Figure("server.log_errors"));
        Assert.Equal(0, bench.Figure("server.log_stack_traces"));
    }

    [Fact]
    public async Task An_unknown_attack_is_refused_by_name()
    {
        var (code, output) = await CliProcess.RunAsync(["bench", "memory-attacks", "--attacks", "logins,uploads"], TimeSpan.FromMinutes(1));

        Assert.NotEqual(0, code);
        Assert.Contains("--attacks: 'uploads' is not one of logins, pulls, heartbeats", output);
    }
}
