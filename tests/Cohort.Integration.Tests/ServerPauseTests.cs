using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>A server that was itself away (stopped, suspended) longer than the node timeout does not count its nodes' silence against them.</summary>
public sealed class ServerPauseTests
{
    [Fact]
    public async Task A_server_frozen_past_the_node_timeout_marks_no_node_offline_when_it_resumes()
    {
        await using var server = await ServerProcess.StartAsync("--node-timeout", "2");
        var nodes = new List<CliProcess>();
        try
        {
            foreach (var name in new[] { "a", "b" })
                nodes.Add(server.StartNode(name, await server.Control.CreateNodeTokenAsync(name, default), "empty"));
            await server.WaitForNodesAsync(2, nodes);
            int before = server.Process.Output.Length;

            await server.Process.PauseAsync();
            await Task.Delay(TimeSpan.FromSeconds(6));
            await server.Process.ResumeAsync();
            // Past the grace of one timeout after the resume: a node the server wrongly counted offline would be in the log by now.
            await Task.Delay(TimeSpan.FromSeconds(4));

            string after = server.Process.Output[before..];
            Assert.DoesNotContain("is offline", after);
            var listed = await server.Control.ListNodesAsync(default);
            Assert.All(new[] { "a", "b" }, n => Assert.Contains(listed, x => x.Name == n && x.TypedStatus().IsConnected()));

            // A node that really goes away is still found out once the grace has passed.
            nodes[1].Kill();
            await server.Process.WaitForOutputAsync("Node b is offline", TimeSpan.FromSeconds(20));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }
}
