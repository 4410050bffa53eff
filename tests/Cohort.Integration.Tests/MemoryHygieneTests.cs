using Cohort.Apps.Empty;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Fleet;
using Cohort.Server.Hosting;
using Cohort.Server.Observability;
using Cohort.Transport.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cohort.Integration.Tests;

/// <summary>The server gives memory back every so many rounds, after the round, and once its nodes have connected, and says so in its metrics.</summary>
public sealed class MemoryHygieneTests
{
    [Fact]
    public async Task A_run_on_a_real_server_triggers_the_pass_after_its_rounds_and_counts_it()
    {
        var metrics = await RunAsync(memoryHygieneRounds: 1, rounds: 3);

        // Three rounds, a pass due after each: at least one ran (rounds recorded while one runs fold into it).
        Assert.True(Passes(metrics, MemoryHygiene.RoundsTrigger) >= 1, $"passes: {Passes(metrics, MemoryHygiene.RoundsTrigger)}");
        Assert.True(metrics.MemoryHygieneSeconds.Value > 0);
    }

    [Fact]
    public async Task Zero_turns_the_pass_off()
    {
        var metrics = await RunAsync(memoryHygieneRounds: 0, rounds: 3);

        Assert.Equal(0, Passes(metrics, MemoryHygiene.RoundsTrigger));
        // Nor does a pass follow the nodes' registrations.
        Assert.Equal(0, Passes(metrics, MemoryHygiene.ConnectionsTrigger));
    }

    [Fact]
    public async Task The_pass_runs_once_per_so_many_rounds_not_every_round()
    {
        // No early pass for heap growth here: other tests in this process allocate large models.
        await WithHygieneAsync(new ServerOptions { MemoryHygieneRounds = 5, MemoryHygieneSpacing = TimeSpan.Zero }, long.MaxValue, async (hygiene, metrics) =>
        {
            var woke = Enumerable.Range(0, 10).Select(_ => hygiene.RoundRecorded()).ToArray();

            Assert.Equal([false, false, false, false, true, false, false, false, false, true], woke);
            await WaitForPassesAsync(metrics, MemoryHygiene.RoundsTrigger, 1);
        });
    }

    [Fact]
    public async Task Fast_rounds_wait_for_the_spacing_before_the_next_pass()
    {
        await WithHygieneAsync(new ServerOptions { MemoryHygieneRounds = 2, MemoryHygieneSpacing = TimeSpan.FromMilliseconds(800) }, long.MaxValue, async (hygiene, metrics) =>
        {
            Assert.Equal([false, true], new[] { hygiene.RoundRecorded(), hygiene.RoundRecorded() });
            await WaitForPassesAsync(metrics, MemoryHygiene.RoundsTrigger, 1);
            // Due by count, but within the spacing of the first pass: rounds go on counting, no pass.
            Assert.Equal([false, false, false, false], Enumerable.Range(0, 4).Select(_ => hygiene.RoundRecorded()).ToArray());
            await Task.Delay(TimeSpan.FromMilliseconds(900));
            // The first round past the spacing brings the pass the count made due.
            Assert.True(hygiene.RoundRecorded());
            await WaitForPassesAsync(metrics, MemoryHygiene.RoundsTrigger, 2);
        });
    }

    [Fact]
    public async Task A_pass_follows_a_burst_of_node_registrations_once_they_stop()
    {
        await WithHygieneAsync(new ServerOptions(), long.MaxValue, async (hygiene, metrics) =>
        {
            var registry = new NodeRegistry();
            registry.Registered += hygiene.NodeRegistered;
            foreach (string name in new[] { "a", "b", "c" }) registry.Register(name, "empty", "1", "test");

            await WaitForPassesAsync(metrics, MemoryHygiene.ConnectionsTrigger, 1);
            Assert.Equal(0, Passes(metrics, MemoryHygiene.RoundsTrigger));
        });
    }

    [Fact]
    public async Task A_pass_follows_a_burst_of_refused_calls_once_they_stop_when_memory_grew_since_the_last()
    {
        // Any resident memory counts as grown here (even less than before): what matters is that the pass waits for the
        // refusals to stop, and comes once.
        await WithHygieneAsync(new ServerOptions(), long.MinValue, async (hygiene, metrics) =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 5; i++)
            {
                hygiene.CallRefused();
                await Task.Delay(300);
            }
            // Refusals 300 ms apart keep the pass waiting until Settle after the last one.
            Assert.Equal(0, Passes(metrics, MemoryHygiene.RefusalsTrigger));
            await WaitForPassesAsync(metrics, MemoryHygiene.RefusalsTrigger, 1);
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(1200) + MemoryHygiene.Settle, $"pass after {clock.Elapsed}");
            Assert.Equal(1, Passes(metrics, MemoryHygiene.RefusalsTrigger));
            Assert.Equal(0, Passes(metrics, MemoryHygiene.RoundsTrigger));

            // A second burst soon after waits for the spacing between such passes (30 s), however quiet it gets.
            hygiene.CallRefused();
            await Task.Delay(MemoryHygiene.Settle + TimeSpan.FromSeconds(1));
            Assert.Equal(1, Passes(metrics, MemoryHygiene.RefusalsTrigger));
        });
    }

    [Fact]
    public async Task A_node_past_its_open_call_limit_counts_as_a_refusal()
    {
        await WithHygieneAsync(new ServerOptions(), long.MinValue, async (hygiene, metrics) =>
        {
            var calls = new OpenCalls(hygiene);
            using var held = calls.Open("task pull", "site", 1, "its limit");

            Assert.Throws<Grpc.Core.RpcException>(() => calls.Open("task pull", "site", 1, "its limit"));
            await WaitForPassesAsync(metrics, MemoryHygiene.RefusalsTrigger, 1);
        });
    }

    [Fact]
    public async Task Refused_calls_that_left_no_memory_behind_bring_no_pass()
    {
        await WithHygieneAsync(new ServerOptions(), long.MaxValue, async (hygiene, metrics) =>
        {
            for (int i = 0; i < 3; i++) hygiene.CallRefused();
            await Task.Delay(MemoryHygiene.Settle + TimeSpan.FromSeconds(1.5));

            Assert.Equal(0, Passes(metrics, MemoryHygiene.RefusalsTrigger));
        });
    }

    [Fact]
    public async Task A_negative_round_count_is_refused_naming_the_option()
    {
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-test-" + Guid.NewGuid().ToString("N")[..8]);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => CohortServerHost.StartAsync(new ServerOptions { Port = 0, DataDir = dataDir, DashboardPort = -1, MemoryHygieneRounds = -1 }));
        Assert.Contains("--memory-hygiene-rounds", e.Message);
        Assert.Contains("-1", e.Message);
    }

    // A started pass with metrics of its own, stopped when the test's body is done.
    private static async Task WithHygieneAsync(ServerOptions options, long growthBytes, Func<MemoryHygiene, ServerMetrics, Task> body)
    {
        var metrics = new ServerMetrics(new NodeRegistry(), new InMemoryStateStore());
        using var hygiene = new MemoryHygiene(options, metrics, NullLogger<MemoryHygiene>.Instance, growthBytes);
        await hygiene.StartAsync(CancellationToken.None);
        try
        {
            await body(hygiene, metrics);
        }
        finally
        {
            await hygiene.StopAsync(CancellationToken.None);
        }
    }

    private static double Passes(ServerMetrics metrics, string trigger) => metrics.MemoryHygiene.WithLabels(trigger).Value;

    private static async Task WaitForPassesAsync(ServerMetrics metrics, string trigger, int passes)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Passes(metrics, trigger) < passes)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{passes} memory passes ({trigger}) expected within 30s, saw {Passes(metrics, trigger)}");
            await Task.Delay(50);
        }
    }

    /// <summary>Runs <paramref name="rounds"/> rounds of the empty app with two in-process nodes on a real server; returns its metrics once the run is over.</summary>
    private static async Task<ServerMetrics> RunAsync(int memoryHygieneRounds, int rounds)
    {
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-test-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            return await RunAsync(dataDir, memoryHygieneRounds, rounds);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<ServerMetrics> RunAsync(string dataDir, int memoryHygieneRounds, int rounds)
    {
        await using var host = await CohortServerHost.StartAsync(new ServerOptions
        {
            Port = 0,
            DataDir = dataDir,
            DashboardPort = -1,
            HeartbeatInterval = TimeSpan.FromMilliseconds(300),
            MemoryHygieneRounds = memoryHygieneRounds,
        }, logLevel: LogLevel.Warning);
        using var control = new ControlClient(new ConnectionOptions(host.Address.ToString(), host.AdminToken, host.CaFile));
        using var stop = new CancellationTokenSource();
        var running = new List<Task>();
        try
        {
            foreach (string name in new[] { "a", "b" })
            {
                var options = new Node.NodeOptions { Connection = new ConnectionOptions(host.Address.ToString(), await control.CreateNodeTokenAsync(name, default), host.CaFile), Name = name };
                running.Add(Node.CohortNode.RunAsync(new EmptyApp(16, TimeSpan.Zero), "empty", options, stop.Token));
            }
            var run = await control.SubmitAsync(TestPlans.Empty(rounds, minAvailable: 2, minFit: 2), "hygiene", default);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (true)
            {
                var detail = await control.GetAsync(run.Id, default);
                if (detail.Run.Status == "finished") break;
                Assert.False(detail.Run.TypedStatus().IsFinal(), $"run {detail.Run.Status}: {detail.Run.Error}");
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"run still {detail.Run.Status} at round {detail.Run.RoundsDone}");
                await Task.Delay(100);
            }
            var metrics = host.Services.GetRequiredService<ServerMetrics>();
            if (memoryHygieneRounds > 0) await WaitForPassesAsync(metrics, MemoryHygiene.RoundsTrigger, 1);
            return metrics;
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(running);
        }
    }
}
