using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Transport.Channels;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Integration.Tests;

/// <summary>A hand-driven node speaking the Fleet protocol directly, to check what the server refuses.</summary>
public sealed class FleetProtocolTests
{
    [Fact]
    public async Task Parameters_attached_to_an_evaluation_result_are_refused_and_counted_as_that_nodes_failure()
    {
        await using var server = await TestServer.StartAsync(nodeTimeout: TimeSpan.FromSeconds(30));
        string token = await server.Control.CreateNodeTokenAsync("raw", default);
        using var channel = GrpcChannels.Create(new ConnectionOptions(server.Host.Address.ToString(), token, server.Host.CaFile));
        var fleet = new Fleet.FleetClient(channel);
        await fleet.RegisterAsync(new RegisterRequest { NodeName = "raw", App = "empty", Version = "test", ProtocolVersion = 1 });
        using var heartbeats = new CancellationTokenSource();
        var beating = Task.Run(async () =>
        {
            while (!heartbeats.IsCancellationRequested)
            {
                try
                {
                    await fleet.HeartbeatAsync(new HeartbeatRequest { NodeName = "raw" }, cancellationToken: heartbeats.Token);
                    await Task.Delay(200, heartbeats.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or RpcException)
                {
                }
            }
        });

        string plan = TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1, minEvaluate: 1);
        var run = await server.Control.SubmitAsync(plan, "raw", default, skipPreflight: true);
        var weights = new ParameterSet([Tensor.Zeros("weights", Cohort.Parameters.DType.Float32, [4])]);
        string? rejection = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (rejection is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the evaluation task never arrived");
            using var pull = fleet.PullTask(new PullTaskRequest { NodeName = "raw", WaitMs = 2000 });
            TaskHeader? task = null;
            await foreach (var m in pull.ResponseStream.ReadAllAsync())
            {
                if (m.BodyCase == TaskMessage.BodyOneofCase.Header) task = m.Header;
            }
            if (task is null) continue;
            using var push = fleet.PushResult();
            await push.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = task.TaskId, NodeName = "raw", Ok = true, Examples = 1, Loss = 0.5, HasParameters = true } });
            // The initial get-parameters and the fit task take parameters; the evaluation must not.
            try
            {
                await push.RequestStream.WriteAsync(new ResultMessage { Manifest = ParameterEncoder.Manifest(weights) });
                foreach (var chunk in ParameterEncoder.Chunks(weights)) await push.RequestStream.WriteAsync(new ResultMessage { Chunk = chunk });
                await push.RequestStream.CompleteAsync();
            }
            catch (Exception e) when (task.Kind == TaskKind.Evaluate && e is RpcException or InvalidOperationException)
            {
                // The server may refuse as soon as it has read the header and end the call while the
                // parameters are still being written; its reply says why.
            }
            if (task.Kind == TaskKind.Evaluate)
            {
                try
                {
                    var refused = await push.ResponseAsync;
                    Assert.False(refused.Accepted);
                    Assert.Contains("evaluation result carries no parameters", refused.Reason);
                    rejection = refused.Reason;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
                {
                    // The server's early reply and its reset of the unread request can reach the client in
                    // either order; when the reset wins the reply is lost here, and the run's record below
                    // is what shows the refusal.
                    rejection = e.Status.ToString();
                }
                continue;
            }
            var reply = await push.ResponseAsync;
            Assert.True(reply.Accepted, reply.Reason);
        }

        var detail = await server.WaitForRunAsync(run.Id);
        var evaluation = Assert.Single(detail.Rounds.Single().Nodes, n => n.Phase == "evaluate");
        Assert.False(evaluation.Ok);
        Assert.Contains("carries no parameters", evaluation.Error);
        await heartbeats.CancelAsync();
        await beating;
    }
}
