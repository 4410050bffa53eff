using System.Security.Cryptography.X509Certificates;
using Cohort.Apps;
using Cohort.Audit;
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
        RunAsync(new DelegateClientAppFactory(appName, _ => app), options, ct);

    /// <summary>Runs a node that creates its app per run through <paramref name="factory"/>.</summary>
    public static async Task RunAsync(IClientAppFactory factory, NodeOptions options, CancellationToken ct = default)
    {
        var log = options.Logger;
        int attempt = 0;
        var apps = new RunApps(factory, options);
        using var ledger = OpenLedger(options);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var session = await NodeSession.ConnectAsync(options, factory.Name, ledger, ct);
                attempt = 0;
                await session.ServeAsync(apps, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
            {
                throw new NodeRefusedException($"server refused node '{options.Name}': {e.Status.Detail}");
            }
            catch (Exception e) when (UntrustedCertificate(e) is { } tls)
            {
                // A certificate the node does not trust is a configuration error, not a network outage: retrying cannot help.
                string trust = options.Connection.CaFile is { } ca ? $"the CA in --ca {ca}" : "this machine's trusted roots";
                throw new NodeRefusedException($"node '{options.Name}': the server certificate of {options.Connection.Server} is not trusted by {trust}; give --ca the federation's CA certificate (TLS: {tls.Message})");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
            {
                // Another live process holds this name; retrying would only contend with it.
                throw new NodeRefusedException(e.Status.Detail);
            }
            catch (Exception e) when (e is RpcException or HttpRequestException or IOException or SessionLostException or OperationCanceledException)
            {
                var delay = Backoff(attempt++, options.MaxBackoff);
                log.LogWarning("Node {Node}: server {Server} unreachable ({Reason}); retrying in {Delay:0.0}s",
                    options.Name, options.Connection.Server, Describe(e), delay.TotalSeconds);
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
            ? new AuditSigner(X509Certificate2.CreateFromPemFile(c.CertificateFile, c.KeyFile))
            : null;
        var ledger = AuditLedger.Open(options.StateDir, signer, $"node:{options.Name}");
        options.Logger.LogInformation("Node {Node}: audit ledger {File} ({Mode})", options.Name, ledger.Path,
            signer is null ? "unsigned, hash-chained: the node has no client certificate" : $"signed with the client certificate's key {signer.KeyId}");
        return ledger;
    }

    private static TimeSpan Backoff(int attempt, TimeSpan max)
    {
        double seconds = Math.Min(max.TotalSeconds, 0.25 * Math.Pow(2, Math.Min(attempt, 10)));
        return TimeSpan.FromSeconds(seconds * (0.8 + 0.4 * Random.Shared.NextDouble()));
    }

    // The TLS handshake's failure, wherever the gRPC or HTTP layers wrapped it.
    private static System.Security.Authentication.AuthenticationException? UntrustedCertificate(Exception e)
    {
        for (Exception? x = e; x is not null; x = x is RpcException r && r.Status.DebugException is { } debug ? debug : x.InnerException)
            if (x is System.Security.Authentication.AuthenticationException tls) return tls;
        return null;
    }

    private static string Describe(Exception e) => e switch
    {
        RpcException r => $"{r.StatusCode}: {r.Status.Detail}",
        _ => e.Message,
    };
}

/// <summary>The server refused this node (unknown or wrong token); retrying cannot help.</summary>
public sealed class NodeRefusedException(string message) : Exception(message);

/// <summary>The connection to the server was lost mid-session; the node reconnects.</summary>
internal sealed class SessionLostException(string message) : Exception(message);
