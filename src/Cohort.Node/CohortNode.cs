using System.Security.Cryptography.X509Certificates;
using Cohort.Apps;
using Cohort.Audit;
using Cohort.Transport.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Cohort.Node;

/// <summary>
/// Hosts a client app as a long-running node: connects out to the server, registers, heartbeats,
/// pulls tasks, runs them with the app and pushes results. Reconnects with backoff when the server
/// restarts or the network drops; stops only when cancelled or when the server refuses its token.
/// </summary>
public static class CohortNode
{
    /// <summary>Runs a node that uses the same <paramref name="app"/> instance for every run.</summary>
    public static Task RunAsync(IClientApp app, string appName, NodeOptions options, CancellationToken ct = default) =>
        RunAsync(new SingleAppFactory(appName, app), options, ct);

    /// <summary>Runs a node that creates its app per run through <paramref name="factory"/>.</summary>
    public static async Task RunAsync(IClientAppFactory factory, NodeOptions options, CancellationToken ct = default)
    {
        Transport.ThreadPoolFloor.Raise();
        var log = options.Logger;
        var backoff = new ReconnectBackoff(options.MaxBackoff, Random.Shared);
        var apps = new RunApps(factory, options);
        using var ledger = OpenLedger(options);
        var validateAudit = ledger is null ? null : new ValidateAuditLimit(ledger, options.Name);
        var datasets = Describe(factory, options);
        var outage = new OutageLog(options, log);
        try
        {
            await ServeUntilStoppedAsync(factory, options, apps, ledger, validateAudit, datasets, outage, backoff, ct);
        }
        finally
        {
            validateAudit?.Flush();
        }
    }

    private static async Task ServeUntilStoppedAsync(IClientAppFactory factory, NodeOptions options, RunApps apps, AuditLedger? ledger,
        ValidateAuditLimit? validateAudit, IReadOnlyList<Transport.V1.DatasetInfo> datasets, OutageLog outage, ReconnectBackoff backoff, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            long connected = 0;
            try
            {
                await using var session = await NodeSession.ConnectAsync(options, factory.Name, ledger, validateAudit, datasets, ct);
                connected = System.Diagnostics.Stopwatch.GetTimestamp();
                outage.Ended();
                await session.ServeAsync(apps, ct);
            }
            catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled } or SessionLostException)
            {
                // Stopping: the calls the stop cancelled are no outage to warn about.
                break;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
            {
                throw new NodeRefusedException($"server refused node '{options.Name}': {e.Status.Detail}");
            }
            catch (Exception e) when (ConnectionFailure.Of(e, options.Connection.Server, options.Connection.CaFile) is { Configuration: true } failure)
            {
                // A certificate the node does not trust, or a server that does not speak TLS, is a configuration error, not a network outage: retrying cannot help.
                throw new NodeRefusedException($"node '{options.Name}': {failure.Reason}");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented && connected == 0)
            {
                // The address answers gRPC but not the Fleet API (the server's dashboard port, another service): retrying cannot help.
                throw new NodeRefusedException($"node '{options.Name}': {options.Connection.Server} does not serve Cohort's Fleet API ({e.Status.Detail})");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
            {
                // Another live process holds this name; retrying would only contend with it.
                throw new NodeRefusedException(e.Status.Detail);
            }
            // InvalidDataException: the server sent what the node cannot read outside any task (a task answers for its own).
            catch (Exception e) when (e is RpcException or HttpRequestException or IOException or SessionLostException or OperationCanceledException or InvalidDataException)
            {
                if (connected != 0) backoff.SessionEnded(System.Diagnostics.Stopwatch.GetElapsedTime(connected));
                var delay = backoff.Next();
                outage.Failed(Describe(e, options.Connection), delay);
                try
                {
                    await Task.Delay(delay, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    // The node's own account of what it executed, signed with its mutual-TLS key when it has one.
    private static AuditLedger? OpenLedger(NodeOptions options)
    {
        if (options.StateDir is null) return null;
        var c = options.Connection;
        AuditSigner? signer = c.CertificateFile is not null && c.KeyFile is not null && File.Exists(c.CertificateFile) && File.Exists(c.KeyFile)
            ? new AuditSigner(CertificateTrust.LoadWithKey(c.CertificateFile, c.KeyFile))
            : null;
        var ledger = AuditLedger.Open(options.StateDir, signer, $"node:{options.Name}");
        options.Logger.LogInformation("Node {Node}: audit ledger {File} ({Mode})", options.Name, ledger.Path,
            signer is null ? "unsigned, hash-chained: the node has no client certificate" : $"signed with the client certificate's key {signer.KeyId}");
        return ledger;
    }

    // Each data set is declared by name and schema hash, read once at start; a file the app cannot read stops the node here.
    private static IReadOnlyList<Transport.V1.DatasetInfo> Describe(IClientAppFactory factory, NodeOptions options)
    {
        var declared = new List<Transport.V1.DatasetInfo>();
        foreach (var (name, path) in options.Datasets.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            if (!DatasetName.IsValid(name)) throw new ArgumentException($"data set name '{name}' is not valid ({DatasetName.Rule})");
            var info = new Transport.V1.DatasetInfo { Name = name };
            if (factory is IDatasetDescriber describer)
            {
                DatasetSchema schema;
                try
                {
                    schema = describer.DescribeDataset(path);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    throw new ArgumentException($"data set '{name}' ({path}): {e.Message}");
                }
                // An app that cannot describe its data says nothing rather than the hash of an empty schema.
                if (schema.Columns.Count > 0)
                {
                    info.SchemaHash = schema.Hash;
                    info.Columns = schema.Columns.Count;
                }
            }
            options.Logger.LogInformation("Node {Node}: data set {Dataset} at {Path}: {Columns} columns, schema {Schema}",
                options.Name, name, path, info.Columns, DatasetSchema.Short(info.SchemaHash));
            declared.Add(info);
        }
        return declared;
    }

    private static string Describe(Exception e, ConnectionOptions connection) => e switch
    {
        _ when ConnectionFailure.Of(e, connection.Server, connection.CaFile) is { } failure => failure.Reason,
        RpcException r => $"{r.StatusCode}: {r.Status.Detail}",
        _ => e.Message,
    };
}

/// <summary>One app instance for every run; its preflight check, data description and strategy refusals pass through when it has them.</summary>
internal sealed class SingleAppFactory(string name, IClientApp app) : IClientAppFactory, IValidatingClientApp, IDatasetDescriber, IStrategyLimitedApp
{
    /// <inheritdoc />
    public string Name { get; } = name;

    /// <inheritdoc />
    public IClientApp Create(ClientAppContext context) => app;

    /// <inheritdoc />
    public IReadOnlyList<string> Validate(ClientAppContext context) => app is IValidatingClientApp v ? v.Validate(context) : [];

    /// <inheritdoc />
    public DatasetSchema DescribeDataset(string path) => app is IDatasetDescriber d ? d.DescribeDataset(path) : new DatasetSchema([]);

    /// <inheritdoc />
    public string? Refusal(string strategy) => app is IStrategyLimitedApp limited ? limited.Refusal(strategy) : null;
}

/// <summary>The server refused this node (unknown or wrong token); retrying cannot help.</summary>
public sealed class NodeRefusedException(string message) : Exception(message);

/// <summary>The connection to the server was lost mid-session; the node reconnects.</summary>
internal sealed class SessionLostException(string message) : Exception(message);
