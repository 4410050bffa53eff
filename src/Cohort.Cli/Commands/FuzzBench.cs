using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Cohort.Apps.Empty;
using Cohort.Cli.Control;
using Cohort.Cli.Fuzzing;
using Cohort.Node;
using Cohort.Engine.State;
using Cohort.Server.State;
using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench fuzz</c>: mutated Fleet protocol messages against a real server process over gRPC;
/// counts crashes (the server exits) and hangs (a call outlives its deadline), reports the server's
/// memory before and after, then checks that an honest run still finishes.
/// </summary>
internal static class FuzzBench
{
    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(b => b, b => b);

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var messages = new Option<int>("--messages") { Description = "Messages (calls) to send", DefaultValueFactory = _ => 100_000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the mutations (the same seed sends the same messages)", DefaultValueFactory = _ => 1 };
        var deadline = new Option<int>("--deadline-ms") { Description = "A call still unanswered after this long counts as a hang", DefaultValueFactory = _ => 10_000 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("fuzz", "Structure-aware fuzzing of the Fleet API of a server process: crashes, hangs, server memory, then an honest run")
        {
            messages, seed, deadline, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int count = pr.GetValue(messages);
            if (count < 1) throw new CliException("--messages must be at least 1");
            var figures = await RunAsync(count, pr.GetValue(seed), TimeSpan.FromMilliseconds(pr.GetValue(deadline)), ct);
            if (pr.GetValue(json) is { } file) await BenchFigures.SaveAsync(figures, file, ct);
            return figures["fuzz.crashes"]!.GetValue<double>() == 0 && figures["fuzz.hangs"]!.GetValue<double>() == 0 && figures["honest_run.finished"]!.GetValue<double>() == 1 ? 0 : 1;
        });
        return command;
    }

    private static async Task<JsonObject> RunAsync(int count, int seed, TimeSpan deadline, CancellationToken ct)
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-fuzz-" + Guid.NewGuid().ToString("N")[..8]);
        var figures = new JsonObject { ["machine"] = Machine.Describe(), ["messages"] = count, ["seed"] = seed };
        try
        {
            await using var server = await ServerChild.StartAsync(
                ["server", "--port", "0", "--dashboard-port", "-1", "--data-dir", dir, "--node-timeout", "5", "--failed-auth-per-minute", "1000000000"], ct);
            string adminToken = File.ReadAllText(Server.Hosting.CohortServerHost.AdminTokenFile(dir)).Trim();
            string ca = Path.Combine(dir, "tls", "ca.crt");
            using var control = new ControlClient(new ConnectionOptions(server.Address.ToString(), adminToken, ca));
            string fuzzToken = await control.CreateNodeTokenAsync("fuzz", ct);
            string honestToken = await control.CreateNodeTokenAsync("honest", ct);
            using var channel = GrpcChannels.Create(new ConnectionOptions(server.Address.ToString(), fuzzToken, ca));
            using var stranger = GrpcChannels.Create(new ConnectionOptions(server.Address.ToString(), "not-a-token-" + seed, ca));
            var fleet = new Fleet.FleetClient(channel);
            await fleet.RegisterAsync(new RegisterRequest { NodeName = "fuzz", App = "empty", Version = "fuzz", ProtocolVersion = 1 }, cancellationToken: ct);
            await control.SubmitAsync(FuzzPlan, "fuzz", ct, skipPreflight: true);

            long before = server.ResidentBytes();
            Console.WriteLine($"fuzzing {count} messages (seed {seed}) against {server.Address}; server RSS {before >> 20} MiB");
            var mutator = new FleetMessageMutator(seed);
            var tasks = new List<TaskHeader>();
            ParameterManifest? model = null;
            var statuses = new SortedDictionary<string, int>(StringComparer.Ordinal);
            int crashes = 0, hangs = 0, sinceTask = 0;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < count && crashes == 0; i++)
            {
                using var call = CancellationTokenSource.CreateLinkedTokenSource(ct);
                call.CancelAfter(deadline);
                string outcome;
                try
                {
                    outcome = await SendOneAsync(mutator, channel, stranger, fleet, tasks, m => model = m, model, call.Token);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && call.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    outcome = "hang";
                }
                catch (RpcException e)
                {
                    outcome = e.StatusCode.ToString();
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    outcome = "hang";
                }
                catch (Exception e) when (e is IOException or HttpRequestException or InvalidOperationException)
                {
                    outcome = "transport";
                }
                if (outcome == "hang") hangs++;
                if (server.HasExited)
                {
                    crashes++;
                    Console.WriteLine($"crash: the server exited at message {i}\n{server.Output}");
                }
                statuses[outcome] = statuses.GetValueOrDefault(outcome) + 1;
                // Keep tasks coming: a run whose tasks all failed ends, so start another.
                sinceTask = tasks.Count > 0 ? 0 : sinceTask + 1;
                if (sinceTask > 0 && sinceTask % 400 == 0) await control.SubmitAsync(FuzzPlan, "fuzz", ct, skipPreflight: true);
                if (tasks.Count > 0 && mutator.Random.Next(50) == 0) tasks.Clear();
                if ((i + 1) % 10_000 == 0) Console.WriteLine($"  {i + 1} messages, {crashes} crashes, {hangs} hangs, server RSS {server.ResidentBytes() >> 20} MiB");
            }
            double seconds = clock.Elapsed.TotalSeconds;
            long after = server.ResidentBytes();

            BenchFigures.Print(figures, "fuzz.crashes", crashes, 0);
            BenchFigures.Print(figures, "fuzz.hangs", hangs, 0);
            BenchFigures.Print(figures, "fuzz.messages_per_second", count / seconds, 0);
            foreach (var (status, n) in statuses) BenchFigures.Print(figures, $"fuzz.status.{status}", n, 0);
            BenchFigures.Print(figures, "server.rss_before_mb", before / 1048576.0, 1);
            BenchFigures.Print(figures, "server.rss_after_mb", after / 1048576.0, 1);
            bool honest = crashes == 0 && await HonestRunAsync(server, control, honestToken, ca, ct);
            BenchFigures.Print(figures, "honest_run.finished", honest ? 1 : 0, 0);
            return figures;
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private const string FuzzPlan = """
        name: fuzz
        app: { name: empty }
        strategy: { name: fedavg }
        rounds: 1000
        selection: { nodes: [fuzz], min_available: 1, min_fit: 1, min_evaluate: 1, fraction_fit: 1.0, fraction_evaluate: 1.0 }
        round_timeout: 3s
        wait_for_nodes: 10s
        """;

    /// <summary>Sends one generated call; returns its status name.</summary>
    private static async Task<string> SendOneAsync(
        FleetMessageMutator mutator, GrpcChannel channel, GrpcChannel stranger, Fleet.FleetClient fleet,
        List<TaskHeader> tasks, Action<ParameterManifest> keepModel, ParameterManifest? model, CancellationToken ct)
    {
        var rng = mutator.Random;
        TaskHeader? task = tasks.Count > 0 ? tasks[rng.Next(tasks.Count)] : null;
        switch (rng.Next(10))
        {
            case 0:
                await fleet.RegisterAsync(mutator.Register("fuzz"), cancellationToken: ct);
                return "OK";
            case 1:
            case 2:
                await fleet.HeartbeatAsync(mutator.Heartbeat("fuzz", task?.TaskId), cancellationToken: ct);
                return "OK";
            case 3:
            case 4:
                using (var pull = fleet.PullTask(mutator.Pull("fuzz"), cancellationToken: ct))
                {
                    await foreach (var m in pull.ResponseStream.ReadAllAsync(ct))
                    {
                        if (m.BodyCase == TaskMessage.BodyOneofCase.Header) tasks.Add(m.Header);
                        if (m.BodyCase == TaskMessage.BodyOneofCase.Manifest) keepModel(m.Manifest);
                    }
                }
                return "OK";
            case 5:
            case 6:
            case 7:
                using (var push = fleet.PushResult(cancellationToken: ct))
                {
                    try
                    {
                        foreach (var m in mutator.Result("fuzz", task, model)) await push.RequestStream.WriteAsync(m, ct);
                        await push.RequestStream.CompleteAsync();
                    }
                    catch (Exception e) when (e is RpcException or InvalidOperationException)
                    {
                        // The server may answer before the stream ends; its answer is the outcome.
                    }
                    var reply = await push.ResponseAsync;
                    if (task is not null) tasks.Remove(task);
                    return reply.Accepted ? "OK" : "rejected";
                }
            case 8:
                return await RawAsync(mutator, channel, task, ct);
            default:
                // The same calls from someone without a valid token.
                var outsider = new Fleet.FleetClient(stranger);
                if (rng.Next(2) == 0) await outsider.RegisterAsync(mutator.Register("fuzz"), cancellationToken: ct);
                else await RawAsync(mutator, stranger, task, ct);
                return "OK";
        }
    }

    /// <summary>A raw byte mutation of an encoded message, sent to a unary method or as one message of a result stream.</summary>
    private static async Task<string> RawAsync(FleetMessageMutator mutator, GrpcChannel channel, TaskHeader? task, CancellationToken ct)
    {
        var invoker = channel.CreateCallInvoker();
        switch (mutator.Random.Next(3))
        {
            case 0:
                await invoker.AsyncUnaryCall(new Method<byte[], byte[]>(MethodType.Unary, "cohort.v1.Fleet", "Register", Raw, Raw), null, new CallOptions(cancellationToken: ct), mutator.Bytes(mutator.Register("fuzz")));
                return "OK";
            case 1:
                await invoker.AsyncUnaryCall(new Method<byte[], byte[]>(MethodType.Unary, "cohort.v1.Fleet", "Heartbeat", Raw, Raw), null, new CallOptions(cancellationToken: ct), mutator.Bytes(mutator.Heartbeat("fuzz", task?.TaskId)));
                return "OK";
            default:
                using (var push = invoker.AsyncClientStreamingCall(new Method<byte[], byte[]>(MethodType.ClientStreaming, "cohort.v1.Fleet", "PushResult", Raw, Raw), null, new CallOptions(cancellationToken: ct)))
                {
                    var messages = mutator.Result("fuzz", task, null);
                    int bent = mutator.Random.Next(messages.Count);
                    try
                    {
                        for (int i = 0; i < messages.Count; i++) await push.RequestStream.WriteAsync(i == bent ? mutator.Bytes(messages[i]) : messages[i].ToByteArray(), ct);
                        await push.RequestStream.CompleteAsync();
                    }
                    catch (Exception e) when (e is RpcException or InvalidOperationException)
                    {
                        // The server may answer before the stream ends.
                    }
                    await push.ResponseAsync;
                    return "OK";
                }
        }
    }

    /// <summary>After the fuzzing: a well-behaved node runs a short run to its end.</summary>
    private static async Task<bool> HonestRunAsync(ServerChild server, ControlClient control, string token, string ca, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var node = Task.Run(() => CohortNode.RunAsync(new EmptyAppFactory(), new NodeOptions
        {
            Connection = new ConnectionOptions(server.Address.ToString(), token, ca),
            Name = "honest",
            PollWait = TimeSpan.FromSeconds(1),
        }, stop.Token), stop.Token);
        try
        {
            var run = await control.SubmitAsync("""
                name: honest
                app: { name: empty }
                strategy: { name: fedavg }
                rounds: 3
                selection: { nodes: [honest], min_available: 1, min_fit: 1, min_evaluate: 1, fraction_fit: 1.0, fraction_evaluate: 1.0 }
                round_timeout: 30s
                wait_for_nodes: 30s
                """, "honest", ct);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (DateTime.UtcNow < deadline)
            {
                var detail = await control.GetAsync(run.Id, ct);
                if (detail.Run.TypedStatus().IsFinal())
                {
                    Console.WriteLine($"honest run {run.Id}: {detail.Run.Status} {detail.Run.Error}".TrimEnd());
                    return detail.Run.TypedStatus() == RunStatus.Finished;
                }
                await Task.Delay(200, ct);
            }
            Console.WriteLine($"honest run {run.Id}: not finished within 120s");
            return false;
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await node;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
