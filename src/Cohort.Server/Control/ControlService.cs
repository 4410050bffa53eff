using Cohort.Audit;
using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Server.Audit;
using Cohort.Server.Fleet;
using Cohort.Server.Hosting;
using Cohort.Server.Runs;
using Cohort.Server.Security;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Server.Control;

/// <summary>
/// The Control API: operators submit, inspect and stop runs, pull models, enrol nodes and manage users. Every
/// call demands one permission of the caller's role (<see cref="Permissions"/>), the same table the dashboard uses.
/// </summary>
internal sealed class ControlService(
    OperatorAuthenticator operators, RunManager runs, IStateStore store, ModelStore models, NodeRegistry registry,
    NodeAuthenticator nodes, NodeCertificates certificates, ViewerTokens viewers, UserAccounts users, DashboardSessions sessions,
    PasswordChecks passwords, TaskBoard board, AuditLedger ledger, NodeRevocation revocation) : Transport.V1.Control.ControlBase
{
    /// <inheritdoc />
    public override async Task<RunInfo> SubmitRun(SubmitRunRequest request, ServerCallContext context)
    {
        var by = operators.Demand(context, Permission.SubmitRun);
        try
        {
            var (run, notes) = await runs.SubmitCheckedAsync(request.PlanYaml, request.PlanSource, request.SkipPreflight, by.Name, context.CancellationToken);
            await store.AddEventAsync(run.Id, "run.control", $"submitted through the Control API by '{by.Name}' ({Permissions.NameOf(by.Role)})", context.CancellationToken);
            ledger.Append(RunAudit.Submitted(run, AuditActors.Operator(context.GetHttpContext()), request.PlanSource));
            var info = RunDetails.Info(run);
            info.PreflightNotes.AddRange(notes);
            return info;
        }
        catch (PlanException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Report));
        }
        catch (PreflightException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
    }

    /// <inheritdoc />
    public override async Task<ListRunsReply> ListRuns(ListRunsRequest request, ServerCallContext context)
    {
        operators.Demand(context, Permission.ReadRuns);
        RunStatus? status = null;
        if (request.Status.Length > 0)
        {
            if (!StatusText.TryParseRunStatus(request.Status, out var parsed))
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"status: unknown run status '{request.Status}' (known: {StatusText.KnownRunStatuses})"));
            status = parsed;
        }
        var reply = new ListRunsReply();
        foreach (var r in await store.ListRunsAsync(status, context.CancellationToken)) reply.Runs.Add(Live(RunDetails.Info(r)));
        return reply;
    }

    /// <inheritdoc />
    public override async Task<RunDetail> GetRun(GetRunRequest request, ServerCallContext context)
    {
        operators.Demand(context, Permission.ReadRuns);
        var ct = context.CancellationToken;
        var detail = await RunDetails.LoadAsync(store, request.RunId, ct) ?? throw NotFound(request.RunId);
        Live(detail.Run);
        return detail;
    }

    /// <inheritdoc />
    public override async Task<RunInfo> StopRun(StopRunRequest request, ServerCallContext context)
    {
        operators.Demand(context, Permission.StopRun);
        var run = await runs.StopAsync(request.RunId, context.CancellationToken) ?? throw NotFound(request.RunId);
        ledger.Append(new AuditEvent(AuditKinds.RunStopped, AuditActors.Operator(context.GetHttpContext()), $"stop requested through the Control API; run is {run.Status.ToText()}") { Run = run.Id });
        return Live(RunDetails.Info(run));
    }

    /// <inheritdoc />
    public override async Task PullModel(PullModelRequest request, IServerStreamWriter<ModelMessage> responseStream, ServerCallContext context)
    {
        operators.Demand(context, Permission.PullModel);
        var ct = context.CancellationToken;
        _ = await store.GetRunAsync(request.RunId, ct) ?? throw NotFound(request.RunId);
        int round = request.Round > 0 ? request.Round : models.LatestRound(request.RunId);
        ParameterSet? parameters;
        try
        {
            parameters = round < 0 ? null : await models.LoadAsync(request.RunId, round, ct);
        }
        catch (InvalidDataException e)
        {
            // A damaged model file is named, with what is wrong, instead of "Exception was thrown by handler".
            throw new RpcException(new Status(StatusCode.DataLoss, $"the model of round {round} of run '{request.RunId}' cannot be read: {e.Message}"));
        }
        if (parameters is null)
            throw new RpcException(new Status(StatusCode.NotFound, round < 0 ? $"run '{request.RunId}' has no model yet" : $"run '{request.RunId}' has no model for round {round}"));
        var manifest = ParameterEncoder.Manifest(parameters);
        await responseStream.WriteAsync(new ModelMessage { Round = round }, ct);
        await responseStream.WriteAsync(new ModelMessage { Manifest = manifest }, ct);
        foreach (var chunk in ParameterEncoder.Chunks(parameters)) await responseStream.WriteAsync(new ModelMessage { Chunk = chunk }, ct);
        ledger.Append(new AuditEvent(AuditKinds.ModelDownloaded, AuditActors.Operator(context.GetHttpContext()), $"global model of round {round} downloaded through the Control API ({parameters.ByteCount} bytes)")
        {
            Run = request.RunId,
            Round = round,
            Digest = Convert.ToHexStringLower(manifest.Sha256.Span),
        });
    }

    /// <inheritdoc />
    public override async Task<CreateNodeTokenReply> CreateNodeToken(CreateNodeTokenRequest request, ServerCallContext context)
    {
        operators.Demand(context, Permission.ManageNodes);
        if (string.IsNullOrWhiteSpace(request.NodeName) || request.NodeName.Length > 128 || request.NodeName.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"node name '{request.NodeName}' must be 1-128 letters, digits, '-', '_' or '.'"));
        var reply = new CreateNodeTokenReply();
        if (request.WithCertificate)
        {
            try
            {
                (reply.CertificatePem, reply.PrivateKeyPem) = certificates.Issue(request.NodeName);
            }
            catch (InvalidOperationException e)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
            }
        }
        reply.Token = await nodes.IssueAsync(request.NodeName, context.CancellationToken);
        ledger.Append(new AuditEvent(AuditKinds.TokenCreated, AuditActors.Operator(context.GetHttpContext()),
            $"node token{(request.WithCertificate ? " and client certificate" : "")} issued for node '{request.NodeName}' (replaces any earlier one)")
        { Node = request.NodeName });
        await store.AddEventAsync(null, "node.token", $"token{(request.WithCertificate ? " and certificate" : "")} issued for node '{request.NodeName}'", context.CancellationToken);
        return reply;
    }

    /// <inheritdoc />
    public override async Task<ListNodesReply> ListNodes(ListNodesRequest request, ServerCallContext context)
    {
        operators.Demand(context, Permission.ReadNodes);
        var live = registry.All.ToDictionary(n => n.Name);
        var reply = new ListNodesReply();
        foreach (var n in await store.ListNodesAsync(context.CancellationToken))
        {
            live.TryGetValue(n.Name, out var l);
            reply.Nodes.Add(new NodeInfo
            {
                Name = n.Name,
                Status = StatusText.Current(l?.Status, n.Status).ToShownText(),
                LastHeartbeat = (l?.LastSeen ?? n.LastSeen)?.ToString("O") ?? "",
                Address = l?.Address ?? n.Address ?? "",
                App = l?.App ?? n.App ?? "",
                Version = l?.Version ?? n.Version ?? "",
                Capacity = l?.Capacity ?? 0,
                Tasks = l is null ? 0 : board.HeldBy(n.Name).Count,
            });
            foreach (var d in l?.Datasets ?? [])
                reply.Nodes[^1].Datasets.Add(new DatasetInfo { Name = d.Name, SchemaHash = d.SchemaHash, Columns = d.Columns });
        }
        return reply;
    }

    /// <inheritdoc />
    public override async Task<CreateNodeTokenReply> CreateViewerToken(CreateViewerTokenRequest request, ServerCallContext context)
    {
        operators.Demand(context, Permission.ManageUsers);
        string token;
        AccessRole role;
        try
        {
            role = request.Role.Length == 0 ? AccessRole.Viewer : Permissions.ParseRole(request.Role);
            lock (NameSpace)
            {
                if (users.Find(request.Name) is not null) throw NameTaken($"a user is named {UserAccounts.Quoted(request.Name)}", "choose another name for the token");
                token = viewers.Issue(request.Name, role);
            }
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        ledger.Append(new AuditEvent(AuditKinds.TokenCreated, AuditActors.Operator(context.GetHttpContext()), $"{Permissions.NameOf(role)} token issued for '{request.Name}' (replaces any earlier one)"));
        await store.AddEventAsync(null, "viewer.token", $"{Permissions.NameOf(role)} token issued for '{request.Name}'", context.CancellationToken);
        return new CreateNodeTokenReply { Token = token };
    }

    /// <inheritdoc />
    public override async Task<ListTokensReply> ListTokens(ListTokensRequest request, ServerCallContext context)
    {
        // Listing every credential takes what issuing both kinds takes.
        operators.Demand(context, Permission.ManageNodes);
        operators.Demand(context, Permission.ManageUsers);
        var live = registry.All.ToDictionary(n => n.Name);
        var reply = new ListTokensReply();
        foreach (var t in await store.ListNodeTokensAsync(context.CancellationToken))
        {
            var seen = live.TryGetValue(t.Node, out var l) && l.LastSeen != default ? l.LastSeen : t.LastSeen;
            reply.Tokens.Add(new TokenInfo { Name = t.Node, Kind = "node", CreatedAt = t.CreatedAt?.ToString("O") ?? "", LastUsed = seen?.ToString("O") ?? "" });
        }
        foreach (var (name, role, created) in viewers.List())
            reply.Tokens.Add(new TokenInfo { Name = name, Kind = "operator", Role = Permissions.NameOf(role), CreatedAt = created?.ToString("O") ?? "" });
        return reply;
    }

    /// <inheritdoc />
    public override async Task<RevokeTokenReply> RevokeToken(RevokeTokenRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (request.Viewer)
        {
            var by = operators.Demand(context, Permission.ManageUsers);
            string hash = viewers.Revoke(request.Name)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"no operator token named '{request.Name}'{(await NodeHoldsTokenAsync(request.Name, ct) ? " (a node token has that name: revoke it without --viewer)" : "")}"));
            // Sessions check their token on every request anyway; ending them also empties the sessions file.
            int ended = hash.Length == 0 ? 0 : sessions.EndAll("token:" + hash);
            ledger.Append(new AuditEvent(AuditKinds.TokenRevoked, AuditActors.Of(by), $"operator token '{request.Name}' revoked ({ended} session(s) ended)"));
            await store.AddEventAsync(null, "viewer.token", $"operator token '{request.Name}' revoked by '{by.Name}'", ct);
            return new RevokeTokenReply { Revoked = true, SessionsEnded = ended };
        }
        var who = operators.Demand(context, Permission.ManageNodes);
        var outcome = await revocation.RevokeAsync(request.Name, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"no node token named '{request.Name}'{(viewers.Holds(request.Name) ? " (an operator token has that name: revoke it with --viewer)" : "")}"));
        string what = $"node token of '{request.Name}' revoked{(outcome.WasOnline ? $"; the node was connected and is offline now, {outcome.TasksFailed} task(s) it held failed" : "")}";
        ledger.Append(new AuditEvent(AuditKinds.TokenRevoked, AuditActors.Of(who), what) { Node = request.Name });
        await store.AddEventAsync(null, "node.token", $"{what} (by '{who.Name}')", ct);
        return new RevokeTokenReply { Revoked = true, WasOnline = outcome.WasOnline, TasksFailed = outcome.TasksFailed };
    }

    private async Task<bool> NodeHoldsTokenAsync(string name, CancellationToken ct) => (await store.ListNodeTokensAsync(ct)).Any(t => t.Node == name);

    /// <inheritdoc />
    public override async Task<RemoveNodeReply> RemoveNode(RemoveNodeRequest request, ServerCallContext context)
    {
        var by = operators.Demand(context, Permission.ManageNodes);
        var ct = context.CancellationToken;
        if (!(await store.ListNodesAsync(ct)).Any(n => n.Name == request.Name) && !registry.All.Any(n => n.Name == request.Name))
            throw new RpcException(new Status(StatusCode.NotFound, $"no node '{request.Name}'"));
        if (await NodeHoldsTokenAsync(request.Name, ct))
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"node '{request.Name}' still holds a token: revoke it first (cohort token revoke {request.Name})"));
        if (registry.IsOnline(request.Name))
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"node '{request.Name}' is connected now; it cannot be removed until it is offline"));
        registry.Forget(request.Name);
        await store.RemoveNodeAsync(request.Name, ct);
        ledger.Append(new AuditEvent(AuditKinds.NodeRemoved, AuditActors.Of(by), $"node '{request.Name}' removed from the node list") { Node = request.Name });
        await store.AddEventAsync(null, "node.removed", $"node '{request.Name}' removed from the node list by '{by.Name}'", ct);
        return new RemoveNodeReply { Removed = true };
    }

    /// <inheritdoc />
    public override async Task<LoginReply> Login(LoginRequest request, ServerCallContext context)
    {
        // The call gate lets Login through without a token and has already refused an address over the limit.
        var http = context.GetHttpContext();
        string caller = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var check = await passwords.CheckAsync(FailedAuthentications.KeyOf(http), () => operators.LogIn(request.User, request.Password), context.CancellationToken);
        if (check.Refusal is not null) throw new RpcException(new Status(StatusCode.ResourceExhausted, check.Refusal));
        if (check.Who is not { } who)
        {
            ledger.Append(new AuditEvent(AuditKinds.LoginFailed, AuditActors.Address(context.GetHttpContext()), $"Control API login as {UserAccounts.Quoted(request.User)} refused: wrong user name or password"));
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"wrong user name or password for {UserAccounts.Quoted(request.User)}"));
        }
        string token = sessions.Start(who);
        ledger.Append(new AuditEvent(AuditKinds.LoginSucceeded, AuditActors.Of(who), $"Control API login from {caller} as {Permissions.NameOf(who.Role)} '{who.Name}'"));
        await store.AddEventAsync(null, "user.login", $"'{who.Name}' logged in to the Control API as {Permissions.NameOf(who.Role)}", context.CancellationToken);
        return new LoginReply { Token = token, Role = Permissions.NameOf(who.Role), ExpiresAt = (DateTimeOffset.UtcNow + DashboardSessions.Lifetime).ToString("O") };
    }

    /// <inheritdoc />
    public override Task<LogoutReply> Logout(LogoutRequest request, ServerCallContext context)
    {
        string? token = Tokens.FromHeader(context.RequestHeaders.GetValue("authorization"));
        bool ended = token is not null && sessions.Find(token) is not null;
        if (ended) sessions.End(token!);
        return Task.FromResult(new LogoutReply { Ended = ended });
    }

    /// <inheritdoc />
    public override async Task<UserInfo> AddUser(AddUserRequest request, ServerCallContext context)
    {
        var by = operators.Demand(context, Permission.ManageUsers);
        UserAccount user;
        try
        {
            lock (NameSpace)
            {
                if (viewers.Holds(request.Name)) throw NameTaken($"an operator token is named {UserAccounts.Quoted(request.Name)}", "choose another name for the user");
                user = users.Add(request.Name, Permissions.ParseRole(request.Role), request.Password);
            }
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        catch (InvalidOperationException e)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, e.Message));
        }
        ledger.Append(new AuditEvent(AuditKinds.UserChanged, AuditActors.Of(by), $"user '{user.Name}' added with role {Permissions.NameOf(user.Role)}"));
        await store.AddEventAsync(null, "user.added", $"user '{user.Name}' added with role {Permissions.NameOf(user.Role)} by '{by.Name}'", context.CancellationToken);
        return Info(user);
    }

    /// <inheritdoc />
    public override Task<ListUsersReply> ListUsers(ListUsersRequest request, ServerCallContext context)
    {
        operators.Demand(context, Permission.ManageUsers);
        var reply = new ListUsersReply();
        foreach (var u in users.All) reply.Users.Add(Info(u));
        return Task.FromResult(reply);
    }

    /// <inheritdoc />
    public override async Task<RemoveUserReply> RemoveUser(RemoveUserRequest request, ServerCallContext context)
    {
        var by = operators.Demand(context, Permission.ManageUsers);
        if (!users.Remove(request.Name)) throw new RpcException(new Status(StatusCode.NotFound, $"no user '{request.Name}'"));
        // Sessions check their user on every request anyway; ending them also empties the sessions file.
        int ended = sessions.EndAll("user:" + request.Name);
        ledger.Append(new AuditEvent(AuditKinds.UserChanged, AuditActors.Of(by), $"user '{request.Name}' removed ({ended} session(s) ended)"));
        await store.AddEventAsync(null, "user.removed", $"user '{request.Name}' removed by '{by.Name}' ({ended} session(s) ended)", context.CancellationToken);
        return new RemoveUserReply { Removed = true, SessionsEnded = ended };
    }

    /// <inheritdoc />
    public override async Task<UserInfo> SetUserRole(SetUserRoleRequest request, ServerCallContext context)
    {
        var by = operators.Demand(context, Permission.ManageUsers);
        AccessRole role;
        try
        {
            role = Permissions.ParseRole(request.Role);
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        var user = users.SetRole(request.Name, role) ?? throw new RpcException(new Status(StatusCode.NotFound, $"no user '{request.Name}'"));
        ledger.Append(new AuditEvent(AuditKinds.UserChanged, AuditActors.Of(by), $"user '{user.Name}' now has role {Permissions.NameOf(role)}"));
        await store.AddEventAsync(null, "user.role", $"user '{user.Name}' now has role {Permissions.NameOf(role)} (set by '{by.Name}')", context.CancellationToken);
        return Info(user);
    }

    // Users, operator tokens and operator certificates share one name space: a run records its submitter by name, and a
    // site policy's submitters list trusts names, so two principals of one name would be one to them. Checking a name and
    // taking it happen under this one lock, so a user and a token created at the same moment cannot both take it (the
    // service is created per call; one server per process).
    private static readonly Lock NameSpace = new();

    private static RpcException NameTaken(string holder, string remedy) =>
        new(new Status(StatusCode.AlreadyExists, $"{holder}: users and operator tokens share one name space (a run's submitter, a site policy's submitters); {remedy}"));

    private static UserInfo Info(UserAccount u) => new() { Name = u.Name, Role = Permissions.NameOf(u.Role), CreatedAt = u.Created.ToString("O") };


    // What only the running server knows about a run: why it waits for nodes.
    private RunInfo Live(RunInfo info)
    {
        if (runs.WaitingReason(info.Id) is { } reason) info.WaitingReason = reason;
        return info;
    }

    /// <inheritdoc />
    public override async Task ReadAuditLedger(ReadAuditLedgerRequest request, IServerStreamWriter<AuditLedgerPart> responseStream, ServerCallContext context)
    {
        operators.Demand(context, Permission.ReadAudit);
        var ct = context.CancellationToken;
        // The head and the lines are read after a sync, so the head never runs ahead of the lines sent; the lines stop where
        // the file ended at that sync, so every line sent is covered by the head's signature.
        long covered = ledger.SyncForReading();
        string keys = Path.Combine(ledger.Folder, AuditLedger.KeysFileName), head = Path.Combine(ledger.Folder, AuditLedger.HeadFileName);
        var part = new AuditLedgerPart
        {
            CertificatesPem = File.Exists(keys) ? await File.ReadAllTextAsync(keys, ct) : "",
            Head = File.Exists(head) ? (await File.ReadAllTextAsync(head, ct)).Trim() : "",
        };
        long bytes = 0, read = 0;
        foreach (string line in AuditLedger.ReadLines(ledger.Path))
        {
            read += System.Text.Encoding.UTF8.GetByteCount(line) + 1;
            if (read > covered) break;
            part.Lines.Add(line);
            bytes += line.Length;
            if (bytes < 1 << 20) continue;
            await responseStream.WriteAsync(part, ct);
            part = new AuditLedgerPart();
            bytes = 0;
        }
        await responseStream.WriteAsync(part, ct);
    }

    private static RpcException NotFound(string id) => new(new Status(StatusCode.NotFound, $"no run '{id}'"));
}
