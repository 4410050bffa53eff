using Cohort.Integration.Tests.Infrastructure;
using Cohort.Node;
using Cohort.Sites;
using Cohort.Transport.V1;
using Google.Protobuf;

namespace Cohort.Integration.Tests;

/// <summary>
/// A node against a server that sends what it should not: the task in question fails with a message naming what is
/// wrong, reported to the server, and the node keeps its session and serves the next task.
/// </summary>
public sealed class HostileServerTests
{
    private static readonly IReadOnlyList<TaskMessage> Next = ScriptedServer.TaskOf(ScriptedServer.Header("next"), ScriptedServer.Model(16));

    [Fact]
    public async Task A_model_over_the_nodes_max_model_bytes_fails_its_task_naming_the_option_and_the_node_serves_the_next()
    {
        var big = await FailedThenServedAsync(ScriptedServer.TaskOf(ScriptedServer.Header("big"), ScriptedServer.Model(1024)), node => node with { MaxModelBytes = 1024 });

        Assert.False(big.RefusedBySitePolicy);
        Assert.Equal("the server's model of 4096 bytes is above this node's limit of 1024 bytes (NodeOptions.MaxModelBytes, cohort node --max-model-bytes)", big.Error);
    }

    [Theory]
    [InlineData(100, 8192, true, "model of 4096 bytes above the site's max_model_bytes 100")]
    [InlineData(8192, 100, false, "the server's model of 4096 bytes is above this node's limit of 100 bytes (NodeOptions.MaxModelBytes, cohort node --max-model-bytes)")]
    public async Task The_lower_of_the_site_policys_max_model_bytes_and_the_nodes_limit_applies(long site, long node, bool bySite, string error)
    {
        var policy = SitePolicyParser.Parse($"max_model_bytes: {site}\n", "site.yaml");

        var big = await FailedThenServedAsync(ScriptedServer.TaskOf(ScriptedServer.Header("big"), ScriptedServer.Model(1024)), options => options with { MaxModelBytes = node, Policy = policy });

        Assert.Equal(bySite, big.RefusedBySitePolicy);
        Assert.Equal(error, big.Error);
    }

    [Fact]
    public async Task A_manifest_of_more_than_65536_tensors_fails_its_task_before_anything_is_allocated()
    {
        var manifest = new ParameterManifest { TotalBytes = 0, Sha256 = ByteString.CopyFrom(new byte[32]) };
        for (int i = 0; i <= 65_536; i++) manifest.Tensors.Add(new TensorSpec { Name = $"t{i}", Dtype = DType.Float32, Shape = { 0 } });

        var many = await FailedThenServedAsync([new TaskMessage { Header = ScriptedServer.Header("many") }, new TaskMessage { Manifest = manifest }]);

        Assert.Equal("the server's model lists 65537 tensors, more than the 65536 a node accepts", many.Error);
    }

    [Fact]
    public async Task Parameters_whose_checksum_does_not_match_fail_their_task_and_the_node_serves_the_next()
    {
        var task = ScriptedServer.TaskOf(ScriptedServer.Header("corrupt"), ScriptedServer.Model(16)).ToList();
        var chunk = task[^1].Chunk.Clone();
        var bytes = chunk.Data.ToByteArray();
        bytes[0] ^= 1;
        chunk.Data = ByteString.CopyFrom(bytes);
        task[^1] = new TaskMessage { Chunk = chunk };

        var corrupt = await FailedThenServedAsync(task);

        Assert.Equal("the parameters the server sent cannot be used: parameter checksum mismatch (corrupted in transit)", corrupt.Error);
    }

    [Fact]
    public async Task A_task_timeout_of_int_MaxValue_seconds_runs_the_task_as_one_of_the_longest_a_timer_waits()
    {
        var header = ScriptedServer.Header("forever");
        header.TimeoutSeconds = int.MaxValue;
        await using var server = await ScriptedServer.StartAsync([ScriptedServer.TaskOf(header, ScriptedServer.Model(16)), Next]);

        var results = await server.ServeAsync(server.NodeOptions(), 2);

        Assert.True(results["forever"].Ok, results["forever"].Error);
        AssertServed(server, results);
    }

    [Fact]
    public async Task An_error_quoting_a_huge_manifest_reaches_the_server_cut_to_2000_characters_with_a_marker()
    {
        string name = new('n', 100_000);
        var manifest = new ParameterManifest { TotalBytes = 0, Sha256 = ByteString.CopyFrom(new byte[32]) };
        for (int i = 0; i < 2; i++) manifest.Tensors.Add(new TensorSpec { Name = name, Dtype = DType.Float32, Shape = { 0 } });

        string error = (await FailedThenServedAsync([new TaskMessage { Header = ScriptedServer.Header("long") }, new TaskMessage { Manifest = manifest }])).Error;

        Assert.Equal(2000, error.Length);
        Assert.StartsWith("the parameters the server sent cannot be used: duplicate tensor name 'nnn", error);
        Assert.EndsWith($"… (cut: {"the parameters the server sent cannot be used: duplicate tensor name '' in parameter manifest".Length + name.Length} characters in all)", error);
    }

    [Fact]
    public async Task A_flood_of_validate_tasks_writes_at_most_60_entries_a_minute_to_the_nodes_ledger_and_one_line_counting_the_rest()
    {
        const int tasks = 40;
        var state = Directory.CreateTempSubdirectory("cohort-node-ledger-");
        try
        {
            IReadOnlyList<TaskMessage>[] flood = [.. Enumerable.Range(0, tasks).Select(i => (IReadOnlyList<TaskMessage>)[new TaskMessage { Header = ScriptedServer.Header($"v{i}", TaskKind.Validate) }])];
            await using var server = await ScriptedServer.StartAsync([.. flood, Next]);

            var results = await server.ServeAsync(server.NodeOptions() with { StateDir = state.FullName }, tasks + 1);

            Assert.All(Enumerable.Range(0, tasks), i => Assert.True(results[$"v{i}"].Ok, results[$"v{i}"].Error));
            var entries = Cohort.Audit.AuditLedger.ReadLines(Path.Combine(state.FullName, Cohort.Audit.AuditLedger.FileName))
                .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
                .Select(e => (Kind: e.GetProperty("kind").GetString(), Task: e.TryGetProperty("task", out var t) ? t.GetString() : null, Detail: e.GetProperty("detail").GetString()))
                .ToList();
            Assert.Equal(60, entries.Count(e => e.Task is ['v', ..]));
            var leftOut = Assert.Single(entries, e => e.Kind == Cohort.Audit.AuditKinds.EntriesLeftOut);
            Assert.StartsWith($"{2 * tasks - 60} validate task entries left out between ", leftOut.Detail);
            // Other tasks are recorded as ever.
            Assert.Equal(2, entries.Count(e => e.Task == "next"));
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(0.1, LeastSigma, "local differential privacy applied with noise multiplier 0.1 below the site's min_noise_multiplier 0.8 (the run claims local privacy with 1)")]
    [InlineData(null, LeastSigma, "the run claims local differential privacy, but its task carries none for the node to apply (require_differential_privacy, min_noise_multiplier)")]
    [InlineData(0.0, "require_differential_privacy: true\n", "local differential privacy applied without noise (noise multiplier 0; require_differential_privacy)")]
    [InlineData(0.5, "require_differential_privacy: true\n", "local differential privacy applied with noise multiplier 0.5 below the 1 the run claims")]
    public async Task A_site_requiring_privacy_checks_the_local_privacy_the_task_applies_not_only_what_the_run_claims(double? applied, string site, string reason)
    {
        var claims = ScriptedServer.Header("claims");
        claims.Privacy = "local";
        claims.NoiseMultiplier = 1.0;
        var honest = claims.Clone();
        honest.TaskId = "next";
        honest.Settings = new TaskSettings { Seed = 1, LocalPrivacy = new LocalPrivacy { ClippingNorm = 1, NoiseMultiplier = 1.0, Delta = 1e-5 } };
        if (applied is { } sigma) claims.Settings = new TaskSettings { Seed = 1, LocalPrivacy = new LocalPrivacy { ClippingNorm = 1, NoiseMultiplier = sigma, Delta = 1e-5 } };
        var policy = SitePolicyParser.Parse(site, "site.yaml");

        var refused = await FailedThenServedAsync(ScriptedServer.TaskOf(claims, ScriptedServer.Model(16)), node => node with { Policy = policy }, ScriptedServer.TaskOf(honest, ScriptedServer.Model(16)));

        Assert.True(refused.RefusedBySitePolicy);
        Assert.Equal(reason, refused.Error);
    }

    private const string LeastSigma = "require_differential_privacy: true\nmin_noise_multiplier: 0.8\n";

    // Serves the bad task, then next (Next unless given), to a node of NodeOptions as changed by node; returns the bad
    // task's result once it is known to have failed and the node to have served next on the same session.
    private static async Task<ResultHeader> FailedThenServedAsync(IReadOnlyList<TaskMessage> bad, Func<NodeOptions, NodeOptions>? node = null, IReadOnlyList<TaskMessage>? next = null)
    {
        await using var server = await ScriptedServer.StartAsync([bad, next ?? Next]);

        var results = await server.ServeAsync((node ?? (options => options))(server.NodeOptions()), 2);

        var failed = results[bad[0].Header.TaskId];
        Assert.False(failed.Ok);
        AssertServed(server, results);
        return failed;
    }

    // The task after the bad one ran on the same session: the node never left.
    private static void AssertServed(ScriptedServer server, IReadOnlyDictionary<string, ResultHeader> results)
    {
        Assert.True(results["next"].Ok, results["next"].Error);
        Assert.Equal(1, server.Fleet.Registrations);
    }
}
