using Cohort.Clients;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Records;
using Microsoft.Data.Sqlite;

namespace Cohort.Engine.Tests;

/// <summary>The typed statuses and their one mapping to the text stored in the database and shown on the wire.</summary>
public sealed class StatusTextTests
{
    [Fact]
    public void The_texts_are_the_ones_databases_the_control_api_and_the_dashboard_already_carry()
    {
        Assert.Equal(["queued", "running", "finished", "failed", "stopped"], Enum.GetValues<RunStatus>().Select(s => s.ToText()));
        Assert.Equal(["done", "failed"], Enum.GetValues<RoundStatus>().Select(s => s.ToText()));
        Assert.Equal(["unknown", "online", "busy", "offline"], Enum.GetValues<NodeStatus>().Select(s => s.ToText()));
        Assert.Equal(["never connected", "online", "busy", "offline"], Enum.GetValues<NodeStatus>().Select(s => s.ToShownText()));
        Assert.Equal(["fit", "evaluate", "get_parameters", "validate", "statistics"], Enum.GetValues<TaskKind>().Select(k => k.ToPhaseText()));
        Assert.Equal(["waiting for nodes", "starting", "statistics", "fit", "evaluate", "buffering"], Enum.GetValues<ProgressPhase>().Select(p => p.ToText()));
    }

    [Fact]
    public void Every_status_reads_back_from_its_text_and_nothing_else_does()
    {
        Assert.All(Enum.GetValues<RunStatus>(), s => Assert.True(StatusText.TryParseRunStatus(s.ToText(), out var back) && back == s));
        Assert.All(Enum.GetValues<RoundStatus>(), s => Assert.True(StatusText.TryParseRoundStatus(s.ToText(), out var back) && back == s));
        Assert.All(Enum.GetValues<NodeStatus>(), s => Assert.True(StatusText.TryParseNodeStatus(s.ToShownText(), out var back) && back == s));
        Assert.False(StatusText.TryParseRunStatus("Finished", out _));
        Assert.False(StatusText.TryParseRunStatus("done", out _));
        Assert.False(StatusText.TryParseRoundStatus("", out _));
        Assert.Equal([RunStatus.Finished, RunStatus.Failed, RunStatus.Stopped], Enum.GetValues<RunStatus>().Where(s => s.IsFinal()));
        Assert.Equal([NodeStatus.Online, NodeStatus.Busy], Enum.GetValues<NodeStatus>().Where(s => s.IsConnected()));
    }

    [Theory]
    [InlineData("runs", "UPDATE runs SET status = 'paused'", "unknown run status 'paused' in table runs")]
    [InlineData("rounds", "UPDATE rounds SET status = 'skipped'", "unknown round status 'skipped' in table rounds")]
    [InlineData("nodes", "UPDATE nodes SET status = 'asleep'", "unknown node status 'asleep' in table nodes")]
    public async Task An_unknown_status_in_the_database_is_an_error_naming_the_value_and_the_table(string table, string damage, string expected)
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-status-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "state.db");
        try
        {
            var ct = CancellationToken.None;
            var store = new SqliteStateStore(file);
            await store.InitializeAsync(ct);
            var now = DateTimeOffset.UtcNow;
            await store.SaveRunAsync(new RunRecord("r1", "n", "e", "app", "fedavg", RunStatus.Running, 2, 1, "name: n", now, now, null, null), ct);
            await store.SaveRoundAsync(new RoundRecord("r1", 1, RoundStatus.Done, now, now, 0, null, Metrics.Empty, Metrics.Empty, null, Metrics.Empty, null), ct);
            await store.UpdateNodeAsync(new NodeRecord("a", NodeStatus.Online, now, null, null, null), ct);
            Assert.Equal(RunStatus.Running, (await store.GetRunAsync("r1", ct))!.Status);

            await using (var connection = new SqliteConnection($"Data Source={file}"))
            {
                await connection.OpenAsync(ct);
                await using var command = connection.CreateCommand();
                command.CommandText = damage;
                await command.ExecuteNonQueryAsync(ct);
            }

            var error = await Assert.ThrowsAsync<StateIntegrityException>(async () =>
            {
                switch (table)
                {
                    case "runs": await store.ListRunsAsync(null, ct); break;
                    case "rounds": await store.ListRoundsAsync("r1", ct); break;
                    default: await store.ListNodesAsync(ct); break;
                }
            });
            Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
