using Cohort.Integration.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace Cohort.Integration.Tests;

/// <summary>A server process refuses state it cannot trust, says why and how out, and exits non-zero; one data folder, one server.</summary>
public sealed class StateIntegrityTests
{
    private static string NewDataDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-state-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string[] Server(string dataDir, params string[] extra) =>
        ["server", "--data-dir", dataDir, "--port", "0", "--dashboard-port", "-1", "--insecure", .. extra];

    private static async Task<CliProcess> StartedAsync(string[] args)
    {
        var process = CliProcess.Start(args);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!process.Output.Contains("listening on") && process.IsRunning && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.True(process.Output.Contains("listening on"), process.Output);
        return process;
    }

    [Fact]
    public async Task Random_bytes_in_the_database_stop_the_server_with_a_non_zero_exit_and_the_way_out()
    {
        string dir = NewDataDir();
        var bytes = new byte[64 << 10];
        new Random(5).NextBytes(bytes);
        await File.WriteAllBytesAsync(Path.Combine(dir, "cohort.db"), bytes);

        var (exit, output) = await CliProcess.RunAsync(Server(dir), TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exit);
        Assert.Contains("cohort.db", output);
        Assert.Contains("--repair", output);
        Assert.DoesNotContain("listening on", output);

        // --repair moves the damaged file aside and starts with an empty state.
        await using (var repaired = await StartedAsync(Server(dir, "--repair")))
        {
            repaired.Kill();
        }
        Assert.Single(Directory.GetFiles(dir, "cohort.db.damaged-*"));
    }

    [Fact]
    public async Task An_emptied_database_beside_existing_models_is_refused_until_repaired()
    {
        string dir = NewDataDir();
        await using (var server = await TestServer.StartAsync(dir))
        {
        }
        Directory.CreateDirectory(Path.Combine(dir, "models", "run-0001"));
        await File.WriteAllBytesAsync(Path.Combine(dir, "models", "run-0001", "round-0001.cps"), [1, 2, 3]);
        SqliteConnection.ClearAllPools();
        foreach (var f in Directory.GetFiles(dir, "cohort.db*")) File.Delete(f);
        await File.WriteAllBytesAsync(Path.Combine(dir, "cohort.db"), []); // truncate -s 0

        var (exit, output) = await CliProcess.RunAsync(Server(dir), TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exit);
        Assert.Contains("holds no runs", output);
        Assert.Contains("run-0001", output);
        Assert.Contains("--repair", output);

        await using var repaired = await StartedAsync(Server(dir, "--repair"));
        repaired.Kill();
    }

    [Fact]
    public async Task A_database_older_than_the_models_is_refused_naming_the_runs_it_does_not_know_until_repaired()
    {
        string dir = NewDataDir();
        string backup = Path.Combine(dir, "backup.db");
        string secondId;
        var server = await TestServer.StartAsync(dir);
        try
        {
            await using var node = CliProcess.StartNode(server, "solo", await server.Control.CreateNodeTokenAsync("solo", default), "empty");
            await server.WaitForNodesAsync(1, processes: [node]);
            var first = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1), "first", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(first.Id)).Run.Status);
            // A backup taken here, then a second run the backup does not hold.
            await using (var c = new SqliteConnection($"Data Source={Path.Combine(dir, "cohort.db")};Pooling=false"))
            {
                await c.OpenAsync();
                await using var cmd = c.CreateCommand();
                cmd.CommandText = $"VACUUM INTO '{backup}'";
                await cmd.ExecuteNonQueryAsync();
            }
            var second = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1), "second", default);
            Assert.Equal("finished", (await server.WaitForRunAsync(second.Id)).Run.Status);
            secondId = second.Id;
        }
        finally
        {
            // Stopped, not disposed: disposing a test server deletes its data folder.
            await server.StopAsync();
        }
        SqliteConnection.ClearAllPools();
        foreach (var f in Directory.GetFiles(dir, "cohort.db*")) File.Delete(f);
        File.Move(backup, Path.Combine(dir, "cohort.db"));
        Assert.True(Directory.Exists(Path.Combine(dir, "models", secondId)));

        var (exit, output) = await CliProcess.RunAsync(Server(dir), TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exit);
        Assert.Contains($"does not know 1 run(s) whose checkpoints are in {Path.Combine(dir, "models")} ({secondId})", output);
        Assert.Contains("--repair", output);
        Assert.DoesNotContain("listening on", output);

        // --repair moves the unknown run's folder aside, so the next plain start goes ahead.
        await using (var repaired = await StartedAsync(Server(dir, "--repair")))
        {
            repaired.Kill();
        }
        Assert.True(Directory.Exists(Path.Combine(Assert.Single(Directory.GetDirectories(Path.Combine(dir, "models"), ".orphaned-*")), secondId)));
        Assert.False(Directory.Exists(Path.Combine(dir, "models", secondId)));
        await using var plain = await StartedAsync(Server(dir));
        plain.Kill();
    }

    [Fact]
    public async Task A_database_from_a_newer_server_is_refused_naming_both_schema_versions()
    {
        string dir = NewDataDir();
        await using (var server = await StartedAsync(Server(dir)))
        {
            server.Kill();
        }
        await using (var c = new SqliteConnection($"Data Source={Path.Combine(dir, "cohort.db")};Pooling=false"))
        {
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE schema_version SET version = 99";
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }
        SqliteConnection.ClearAllPools();

        var (exit, output) = await CliProcess.RunAsync(Server(dir), TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exit);
        Assert.Contains("schema version 99", output);
        Assert.Contains($"versions up to {Cohort.Engine.State.SchemaVersion.Current}", output);
    }

    [Fact]
    public async Task A_second_server_on_a_data_folder_in_use_refuses_to_start()
    {
        string dir = NewDataDir();
        await using var first = await StartedAsync(Server(dir));

        var (exit, output) = await CliProcess.RunAsync(Server(dir), TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exit);
        Assert.Contains("in use by another Cohort server", output);
        Assert.True(first.IsRunning);
        first.Kill();
    }
}
