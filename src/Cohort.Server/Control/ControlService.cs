using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Server.Fleet;
using Cohort.Server.Hosting;
using Cohort.Server.Runs;
using Cohort.Server.Security;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Server.Control;

/// <summary>The Control API: operators submit, inspect and stop runs, pull models and enrol nodes.</summary>
public sealed class ControlService(
    AdminAuthenticator admin, RunManager runs, IStateStore store, ModelStore models, NodeRegistry registry,
    NodeAuthenticator nodes, NodeCertificates certificates, ViewerTokens viewers) : Transport.V1.Control.ControlBase
{
    /// <inheritdoc />
    public override async Task<RunInfo> SubmitRun(SubmitRunRequest request, ServerCallContext context)
    {
        admin.Demand(context);
        try
        {
            var (run, notes) = await runs.SubmitCheckedAsync(request.PlanYaml, request.PlanSource, request.SkipPreflight, context.CancellationToken);
            var info = RunDetails.Info(run);
            info.PreflightNotes.AddRange(notes);
            return info;
        }
        catch (PlanException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        catch (PreflightException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
    }

    /// <inheritdoc />
    public override async Task<ListRunsReply> ListRuns(ListRunsRequest request, ServerCallContext context)
    {
        admin.Demand(context);
        var reply = new ListRunsReply();
        foreach (var r in await store.ListRunsAsync(request.Status, context.CancellationToken)) reply.Runs.Add(RunDetails.Info(r));
        return reply;
    }

    /// <inheritdoc />
    public override async Task<RunDetail> GetRun(GetRunRequest request, ServerCallContext context)
    {
        admin.Demand(context);
        var ct = context.CancellationToken;
        return await RunDetails.LoadAsync(store, request.RunId, ct) ?? throw NotFound(request.RunId);
    }

    /// <inheritdoc />
    public override async Task<RunInfo> StopRun(StopRunRequest request, ServerCallContext context)
    {
        admin.Demand(context);
        var run = await runs.StopAsync(request.RunId, context.CancellationToken) ?? throw NotFound(request.RunId);
        return RunDetails.Info(run);
    }

    /// <inheritdoc />
    public override async Task PullModel(PullModelRequest request, IServerStreamWriter<ModelMessage> responseStream, ServerCallContext context)
    {
        admin.Demand(context);
        var ct = context.CancellationToken;
        _ = await store.GetRunAsync(request.RunId, ct) ?? throw NotFound(request.RunId);
        int round = request.Round > 0 ? request.Round : models.LatestRound(request.RunId);
        var parameters = round < 0 ? null : await models.LoadAsync(request.RunId, round, ct);
        if (parameters is null)
            throw new RpcException(new Status(StatusCode.NotFound, round < 0 ? $"run '{request.RunId}' has no model yet" : $"run '{request.RunId}' has no model for round {round}"));
        await responseStream.WriteAsync(new ModelMessage { Round = round }, ct);
        await responseStream.WriteAsync(new ModelMessage { Manifest = ParameterEncoder.Manifest(parameters) }, ct);
        foreach (var chunk in ParameterEncoder.Chunks(parameters)) await responseStream.WriteAsync(new ModelMessage { Chunk = chunk }, ct);
    }

    /// <inheritdoc />
    public override async Task<CreateNodeTokenReply> CreateNodeToken(CreateNodeTokenRequest request, ServerCallContext context)
    {
        admin.Demand(context);
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
        await store.AddEventAsync(null, "node.token", $"token{(request.WithCertificate ? " and certificate" : "")} issued for node '{request.NodeName}'", context.CancellationToken);
        return reply;
    }

    /// <inheritdoc />
    public override async Task<ListNodesReply> ListNodes(ListNodesRequest request, ServerCallContext context)
    {
        admin.Demand(context);
        var live = registry.All.ToDictionary(n => n.Name);
        var reply = new ListNodesReply();
        foreach (var n in await store.ListNodesAsync(context.CancellationToken))
        {
            live.TryGetValue(n.Name, out var l);
            reply.Nodes.Add(new NodeInfo
            {
                Name = n.Name,
                Status = l?.Status ?? (n.Status == NodeStatus.Unknown ? "never connected" : NodeStatus.Offline),
                LastHeartbeat = (l?.LastSeen ?? n.LastSeen)?.ToString("O") ?? "",
                Address = l?.Address ?? n.Address ?? "",
                App = l?.App ?? n.App ?? "",
                Version = l?.Version ?? n.Version ?? "",
            });
            foreach (var d in l?.Datasets ?? [])
                reply.Nodes[^1].Datasets.Add(new DatasetInfo { Name = d.Name, SchemaHash = d.SchemaHash, Columns = d.Columns });
        }
        return reply;
    }

    /// <inheritdoc />
    public override async Task<CreateNodeTokenReply> CreateViewerToken(CreateViewerTokenRequest request, ServerCallContext context)
    {
        admin.Demand(context);
        string token;
        try
        {
            token = viewers.Issue(request.Name);
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        await store.AddEventAsync(null, "viewer.token", $"viewer token issued for '{request.Name}'", context.CancellationToken);
        return new CreateNodeTokenReply { Token = token };
    }

    private static RpcException NotFound(string id) => new(new Status(StatusCode.NotFound, $"no run '{id}'"));
}
