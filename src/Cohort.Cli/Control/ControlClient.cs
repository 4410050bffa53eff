using Cohort.Parameters;
using Cohort.Transport.Channels;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Cohort.Cli.Control;

/// <summary>The Control API from the operator's side, with errors turned into one-line messages.</summary>
public sealed class ControlClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Transport.V1.Control.ControlClient _client;
    private readonly string _server;

    /// <summary>Connects (lazily) to the server.</summary>
    public ControlClient(ConnectionOptions options)
    {
        try
        {
            _channel = GrpcChannels.Create(options);
        }
        catch (ArgumentException e)
        {
            throw new CliException(e.Message);
        }
        _client = new Transport.V1.Control.ControlClient(_channel);
        _server = options.Server;
    }

    /// <summary>Submits a plan.</summary>
    public Task<RunInfo> SubmitAsync(string yaml, string source, CancellationToken ct, bool skipPreflight = false) =>
        Call(() => _client.SubmitRunAsync(new SubmitRunRequest { PlanYaml = yaml, PlanSource = source, SkipPreflight = skipPreflight }, cancellationToken: ct).ResponseAsync);

    /// <summary>Lists runs.</summary>
    public async Task<IReadOnlyList<RunInfo>> ListAsync(string? status, CancellationToken ct) =>
        (await Call(() => _client.ListRunsAsync(new ListRunsRequest { Status = status ?? "" }, cancellationToken: ct).ResponseAsync)).Runs;

    /// <summary>One run with its rounds.</summary>
    public Task<RunDetail> GetAsync(string id, CancellationToken ct) =>
        Call(() => _client.GetRunAsync(new GetRunRequest { RunId = id }, cancellationToken: ct).ResponseAsync);

    /// <summary>Stops a run.</summary>
    public Task<RunInfo> StopAsync(string id, CancellationToken ct) =>
        Call(() => _client.StopRunAsync(new StopRunRequest { RunId = id }, cancellationToken: ct).ResponseAsync);

    /// <summary>Issues a node token.</summary>
    public async Task<string> CreateNodeTokenAsync(string node, CancellationToken ct) =>
        (await CreateNodeCredentialsAsync(node, false, ct)).Token;

    /// <summary>Issues a node token and, when asked, a client certificate for mutual TLS.</summary>
    public Task<CreateNodeTokenReply> CreateNodeCredentialsAsync(string node, bool withCertificate, CancellationToken ct) =>
        Call(() => _client.CreateNodeTokenAsync(new CreateNodeTokenRequest { NodeName = node, WithCertificate = withCertificate }, cancellationToken: ct).ResponseAsync);

    /// <summary>Known nodes.</summary>
    public async Task<IReadOnlyList<NodeInfo>> ListNodesAsync(CancellationToken ct) =>
        (await Call(() => _client.ListNodesAsync(new ListNodesRequest(), cancellationToken: ct).ResponseAsync)).Nodes;

    /// <summary>Issues a read-only dashboard token.</summary>
    public async Task<string> CreateViewerTokenAsync(string name, CancellationToken ct) =>
        (await Call(() => _client.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = name }, cancellationToken: ct).ResponseAsync)).Token;

    /// <summary>Downloads a round's global model (0 = latest); returns it with its round.</summary>
    public Task<(ParameterSet Parameters, int Round)> PullModelAsync(string runId, int round, CancellationToken ct) => Call(async () =>
    {
        using var call = _client.PullModel(new PullModelRequest { RunId = runId, Round = round }, cancellationToken: ct);
        ParameterAssembler? assembler = null;
        int actualRound = round;
        try
        {
            await foreach (var m in call.ResponseStream.ReadAllAsync(ct))
            {
                switch (m.BodyCase)
                {
                    case ModelMessage.BodyOneofCase.Round: actualRound = m.Round; break;
                    case ModelMessage.BodyOneofCase.Manifest: assembler = new ParameterAssembler(m.Manifest); break;
                    case ModelMessage.BodyOneofCase.Chunk when assembler is not null: assembler.Add(m.Chunk); break;
                }
            }
            if (assembler is null) throw new CliException($"server sent no model for run '{runId}'");
            return (assembler.Complete(), actualRound);
        }
        finally
        {
            assembler?.Dispose();
        }
    });

    private async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
        {
            throw new CliException($"cannot reach server {_server}: {e.Status.Detail}");
        }
        catch (RpcException e)
        {
            throw new CliException(e.Status.Detail.Length > 0 ? e.Status.Detail : e.StatusCode.ToString());
        }
    }

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();
}
