using Cohort.Apps;
using Cohort.Apps.Empty;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Integration.Tests;

/// <summary>
/// What an authenticated node writes beside its parameters (its timing, its error text, text metrics, its app and
/// version names, compressed messages) cannot fail the run it is in, swell what the server stores and shows, or rewrite
/// an operator's console: each round here, over real gRPC, a hand-driven node tries one of them beside an honest node.
/// </summary>
public sealed class HostileNodeTextTests
{
    private const int Rounds = 3;

    [Fact]
    public async Task A_nan_duration_huge_error_text_and_huge_text_metrics_are_refused_or_cut_and_the_run_finishes()
    {
        await using var server = await TestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        var running = await server.StartNodesAsync(new Dictionary<string, IClientApp> { ["honest"] = new EmptyApp(4, TimeSpan.Zero) }, "empty", stop.Token);
        await using var evil = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "evil", await server.Control.CreateNodeTokenAsync("evil", default));
        try
        {
            await server.WaitForNodesAsync(2);
            // Within the 256 KiB a result header may take, and a hundred times what the server keeps of an error.
            string hugeError = "first line\r\x1b[2Kforged line\n" + new string('e', 200_000);
            var answering = Task.Run(() => AnswerAsync(evil, round => round switch
            {
                1 => new ResultHeader { Ok = true, Examples = 1, HasParameters = true, DurationSeconds = double.NaN },
                2 => new ResultHeader { Ok = false, Error = hugeError, DurationSeconds = double.PositiveInfinity },
                _ => WithText(new ResultHeader { Ok = true, Examples = 1, HasParameters = true, DurationSeconds = 0.01 }, 70_000),
            }, stop.Token));
            // Submitting waits for the preflight, which the hand-driven node answers too.
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: Rounds, minAvailable: 2, minFit: 1), "hostile-text", default);

            var detail = await server.WaitForRunAsync(run.Id);

            Assert.True(detail.Run.Status == "finished", detail.Run.Error);
            Assert.Equal(Rounds, detail.Rounds.Count);
            var evilFits = detail.Rounds.Select(r => r.Nodes.Single(n => n.Node == "evil" && n.Phase == "fit")).ToArray();
            Assert.False(evilFits[0].Ok);
            Assert.Contains("duration_seconds is NaN", evilFits[0].Error);
            Assert.False(evilFits[1].Ok);
            Assert.StartsWith("node error: first line  [2Kforged line eee", evilFits[1].Error);
            Assert.InRange(evilFits[1].Error.Length, 1_000, 2_100);
            Assert.DoesNotContain(evilFits[1].Error, char.IsControl);
            Assert.Equal(0, evilFits[1].DurationSeconds);
            Assert.False(evilFits[2].Ok);
            Assert.Contains("metrics hold more than 65,536 characters of text", evilFits[2].Error);
            Assert.All(detail.Rounds, r => Assert.True(r.Nodes.Single(n => n.Node == "honest" && n.Phase == "fit").Ok));
            await stop.CancelAsync();
            await answering;
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(running);
        }
    }

    [Fact]
    public async Task Registrations_with_long_or_control_character_names_and_compressed_messages_are_refused()
    {
        await using var server = await TestServer.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("odd", default);
        using var channel = Cohort.Transport.Channels.GrpcChannels.Create(new Cohort.Transport.Channels.ConnectionOptions(server.Host.Address.ToString(), token, server.Host.CaFile));
        var fleet = new Fleet.FleetClient(channel);
        RegisterRequest Request(string app, string version) => new() { NodeName = "odd", App = app, Version = version, ProtocolVersion = 1, SessionId = "s" };

        var longApp = await Assert.ThrowsAsync<RpcException>(async () => await fleet.RegisterAsync(Request(new string('a', 8_300), "1")));
        Assert.Equal(StatusCode.InvalidArgument, longApp.StatusCode);
        Assert.Contains("app name of 8300 characters (at most 128)", longApp.Status.Detail);
        var escape = await Assert.ThrowsAsync<RpcException>(async () => await fleet.RegisterAsync(Request("empty", "1.0\r\x1b[2K")));
        Assert.Contains("version name holds control characters", escape.Status.Detail);

        // 16 KB of gzip that would be 16 MB once read: refused as it arrives, whatever it holds.
        var compressed = await Assert.ThrowsAsync<RpcException>(async () => await fleet.RegisterAsync(Request("empty", "1"),
            new CallOptions(new Metadata { { "grpc-internal-encoding-request", "gzip" } })));
        Assert.Equal(StatusCode.InvalidArgument, compressed.StatusCode);
        Assert.Contains("compressed request messages are not accepted", compressed.Status.Detail);
        // A client-streaming call too, at its start.
        using var push = fleet.PushResults(new CallOptions(new Metadata { { "grpc-internal-encoding-request", "gzip" } }));
        var streamed = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            try
            {
                await push.RequestStream.WriteAsync(new ResultMessage { Header = new ResultHeader { TaskId = "t", NodeName = "odd", Ok = false, Error = new string('x', 100_000) } });
                await push.RequestStream.CompleteAsync();
            }
            catch (Exception write) when (write is RpcException or InvalidOperationException or IOException)
            {
                // A write racing the server's refusal fails (on a loaded machine, as Cancelled); the call's status is what counts.
            }
            await push.ResponseStream.MoveNext();
        });
        Assert.Equal(StatusCode.InvalidArgument, streamed.StatusCode);
        Assert.Contains("compressed request messages are not accepted", streamed.Status.Detail);

        // Plain names still register.
        await fleet.RegisterAsync(Request("empty", "1.2.3+build"));
    }

    [Theory]
    [InlineData("a\u202Eb\u2028c\u200Bd", 100, "a b c d")] // bidi override, line separator, zero-width space
    [InlineData("ab\U0001F600", 3, "ab…")] // not cut between the halves of a surrogate pair
    [InlineData("line\r\n\x1b[31mred", 100, "line   [31mred")]
    public void Node_text_is_kept_on_one_printable_line(string text, int max, string kept) =>
        Assert.Equal(kept, Cohort.Server.Fleet.NodeText.Clean(text, max));

    private static ResultHeader WithText(ResultHeader header, int characters)
    {
        header.Metrics["notes"] = new Transport.V1.Scalar { StringValue = new string('n', characters) };
        return header;
    }

    // Answers the raw node's tasks: get-parameters honestly, each fit with what the round's header says.
    private static async Task AnswerAsync(RawNode node, Func<int, ResultHeader> fitAnswer, CancellationToken stop)
    {
        var weights = new ParameterSet([Tensor.Zeros("weights", Cohort.Parameters.DType.Float32, [4])]);
        int fits = 0;
        while (!stop.IsCancellationRequested)
        {
            TaskHeader? task = null;
            try
            {
                using var pull = node.Fleet.PullTask(new PullTaskRequest { NodeName = node.Name, WaitMs = 500 }, cancellationToken: stop);
                await foreach (var m in pull.ResponseStream.ReadAllAsync(stop))
                {
                    if (m.BodyCase == TaskMessage.BodyOneofCase.Header) task = m.Header;
                }
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException && stop.IsCancellationRequested)
            {
                return;
            }
            if (task is null) continue;
            var header = task.Kind switch
            {
                TaskKind.GetParameters => new ResultHeader { Ok = true, HasParameters = true },
                TaskKind.Validate => new ResultHeader { Ok = true },
                TaskKind.Fit => fitAnswer(++fits),
                _ => new ResultHeader { Ok = false, Error = "not this one" },
            };
            header.TaskId = task.TaskId;
            header.NodeName = node.Name;
            using var push = node.Fleet.PushResult(cancellationToken: stop);
            await push.RequestStream.WriteAsync(new ResultMessage { Header = header });
            if (header.HasParameters)
            {
                await push.RequestStream.WriteAsync(new ResultMessage { Manifest = ParameterEncoder.Manifest(weights) });
                foreach (var chunk in ParameterEncoder.Chunks(weights)) await push.RequestStream.WriteAsync(new ResultMessage { Chunk = chunk });
            }
            await push.RequestStream.CompleteAsync();
            await push.ResponseAsync;
        }
    }
}
