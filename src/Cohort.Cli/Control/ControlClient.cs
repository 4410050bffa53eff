using Cohort.Parameters;
using Cohort.Transport.Channels;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Cohort.Cli.Control;

/// <summary>The Control API from the operator's side, with errors turned into one-line messages.</summary>
internal sealed class ControlClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Transport.V1.Control.ControlClient _client;
    private readonly string _server;
    private readonly string? _caFile;

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
        _caFile = options.CaFile;
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

    /// <summary>Issues an operator token with role viewer (read-only) or, with <paramref name="role"/>, operator.</summary>
    public async Task<string> CreateViewerTokenAsync(string name, CancellationToken ct, string role = "") =>
        (await Call(() => _client.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = name, Role = role }, cancellationToken: ct).ResponseAsync)).Token;

    /// <summary>Every node and operator token's name, kind, role and times; never a token or its hash.</summary>
    public async Task<IReadOnlyList<TokenInfo>> ListTokensAsync(CancellationToken ct) =>
        (await Call(() => _client.ListTokensAsync(new ListTokensRequest(), cancellationToken: ct).ResponseAsync)).Tokens;

    /// <summary>Revokes a node token, or with <paramref name="viewer"/> an operator token.</summary>
    public Task<RevokeTokenReply> RevokeTokenAsync(string name, bool viewer, CancellationToken ct) =>
        Call(() => _client.RevokeTokenAsync(new RevokeTokenRequest { Name = name, Viewer = viewer }, cancellationToken: ct).ResponseAsync);

    /// <summary>Removes a node that has left (and holds no token) from the node list.</summary>
    public Task<RemoveNodeReply> RemoveNodeAsync(string name, CancellationToken ct) =>
        Call(() => _client.RemoveNodeAsync(new RemoveNodeRequest { Name = name }, cancellationToken: ct).ResponseAsync);

    /// <summary>Exchanges a user's password for a session token.</summary>
    public Task<LoginReply> LoginAsync(string user, string password, CancellationToken ct) =>
        Call(() => _client.LoginAsync(new LoginRequest { User = user, Password = password }, cancellationToken: ct).ResponseAsync);

    /// <summary>Ends the session whose token this client carries.</summary>
    public async Task<bool> LogoutAsync(CancellationToken ct) =>
        (await Call(() => _client.LogoutAsync(new LogoutRequest(), cancellationToken: ct).ResponseAsync)).Ended;

    /// <summary>Adds a named user.</summary>
    public Task<UserInfo> AddUserAsync(string name, string role, string password, CancellationToken ct) =>
        Call(() => _client.AddUserAsync(new AddUserRequest { Name = name, Role = role, Password = password }, cancellationToken: ct).ResponseAsync);

    /// <summary>Every named user.</summary>
    public async Task<IReadOnlyList<UserInfo>> ListUsersAsync(CancellationToken ct) =>
        (await Call(() => _client.ListUsersAsync(new ListUsersRequest(), cancellationToken: ct).ResponseAsync)).Users;

    /// <summary>Removes a named user and ends their sessions.</summary>
    public Task<RemoveUserReply> RemoveUserAsync(string name, CancellationToken ct) =>
        Call(() => _client.RemoveUserAsync(new RemoveUserRequest { Name = name }, cancellationToken: ct).ResponseAsync);

    /// <summary>Changes a named user's role.</summary>
    public Task<UserInfo> SetUserRoleAsync(string name, string role, CancellationToken ct) =>
        Call(() => _client.SetUserRoleAsync(new SetUserRoleRequest { Name = name, Role = role }, cancellationToken: ct).ResponseAsync);

    /// <summary>The server's audit ledger as it holds it: signing certificates (PEM), head (JSON) and lines.</summary>
    public Task<(string CertificatesPem, string Head, List<string> Lines)> ReadAuditLedgerAsync(CancellationToken ct) => Call(async () =>
    {
        using var call = _client.ReadAuditLedger(new ReadAuditLedgerRequest(), cancellationToken: ct);
        string certificates = "", head = "";
        var lines = new List<string>();
        await foreach (var part in call.ResponseStream.ReadAllAsync(ct))
        {
            if (part.CertificatesPem.Length > 0) certificates = part.CertificatesPem;
            if (part.Head.Length > 0) head = part.Head;
            lines.AddRange(part.Lines);
        }
        return (certificates, head, lines);
    });

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
        catch (RpcException e) when (ConnectionFailure.Of(e, _server, _caFile) is { } failure)
        {
            throw failure.Configuration ? new CliException(failure.Reason) : new ServerUnreachableException(failure.Reason);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
        {
            throw new ServerUnreachableException($"cannot reach server {_server}: {e.Status.Detail}");
        }
        catch (RpcException e)
        {
            throw new CliException(e.Status.Detail.Length > 0 ? e.Status.Detail : e.StatusCode.ToString());
        }
    }

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();
}
