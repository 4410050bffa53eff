using System.Net;
using System.Security.Cryptography.X509Certificates;
using Cohort.Server.Control;
using Cohort.Server.Fleet;
using Cohort.Server.Models;
using Cohort.Server.Runs;
using Cohort.Server.Security;
using Cohort.Server.State;
using Cohort.Strategies;
using Cohort.Transport.Channels;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Hosting;

/// <summary>
/// A running Cohort server: Fleet and Control APIs over gRPC (TLS unless insecure), health endpoints,
/// SQLite state and the model store in the data folder. Start with <see cref="StartAsync"/>.
/// </summary>
public sealed class CohortServerHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CohortServerHost(WebApplication app, Uri address, string adminToken, string? caFile, string dataDir)
    {
        _app = app;
        Address = address;
        AdminToken = adminToken;
        CaFile = caFile;
        DataDir = dataDir;
    }

    /// <summary>Where nodes and operators connect (https://… or http://… when insecure).</summary>
    public Uri Address { get; }

    /// <summary>The Control API's admin token.</summary>
    public string AdminToken { get; }

    /// <summary>CA certificate nodes should trust, when the server generated its own; else null.</summary>
    public string? CaFile { get; }

    /// <summary>The data folder.</summary>
    public string DataDir { get; }

    /// <summary>The server's services (state store, registry, …) for embedding and tests.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a server and returns once it accepts connections.</summary>
    public static async Task<CohortServerHost> StartAsync(
        ServerOptions options, StrategyRegistry? strategies = null, StrategyServices? strategyServices = null,
        LogLevel logLevel = LogLevel.Information, CancellationToken ct = default)
    {
        string dataDir = Path.GetFullPath(options.DataDir);
        Directory.CreateDirectory(dataDir);
        string adminToken = options.AdminToken ?? LoadOrCreateAdminToken(dataDir);

        X509Certificate2? certificate = null;
        string? caFile = null;
        if (!options.Insecure)
        {
            string certFile, keyFile;
            if (options.TlsCertFile is not null)
            {
                certFile = options.TlsCertFile;
                keyFile = options.TlsKeyFile ?? throw new ArgumentException("--tls-cert needs --tls-key");
            }
            else
            {
                string tlsDir = Path.Combine(dataDir, "tls");
                (certFile, keyFile) = CertificateAuthority.EnsureServerCertificate(tlsDir, options.TlsNames);
                caFile = Path.Combine(tlsDir, CertificateAuthority.CaFile);
            }
            certificate = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        string? clientCaFile = options.ClientCaFile ?? caFile;
        if (options.RequireNodeCertificates && (certificate is null || clientCaFile is null))
            throw new ArgumentException("mutual TLS needs TLS and a CA for node certificates (the generated one, or --client-ca)");
        var clientCa = clientCaFile is null ? null : CertificateTrust.LoadCertificate(clientCaFile);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.SetMinimumLevel(logLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;
            k.Limits.Http2.InitialConnectionWindowSize = 8 << 20;
            k.Limits.Http2.InitialStreamWindowSize = 4 << 20;
            k.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(20);
            k.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
            k.Listen(IPAddress.Parse(options.Host), options.Port, listen =>
            {
                if (certificate is null)
                {
                    listen.Protocols = HttpProtocols.Http2;
                }
                else
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.UseHttps(https =>
                    {
                        https.ServerCertificate = certificate;
                        // Certificates are optional at the TLS layer so operators need none; the Fleet API
                        // demands a node's own certificate when mutual TLS is on (NodeAuthenticator).
                        https.ClientCertificateMode = clientCa is null ? ClientCertificateMode.NoCertificate : ClientCertificateMode.AllowCertificate;
                        https.ClientCertificateValidation = (presented, _, _) => clientCa is not null && CertificateTrust.IsIssuedBy(clientCa, presented);
                    });
                }
            });
        });

        var services = builder.Services;
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = 16 << 20;
            o.MaxSendMessageSize = 16 << 20;
            o.EnableDetailedErrors = false;
        });
        IStateStore store = options.Database is { Length: > 0 } database
            ? new PostgresStateStore(database)
            : new SqliteStateStore(Path.Combine(dataDir, "cohort.db"));
        await store.InitializeAsync(ct);
        services.AddSingleton(options);
        services.AddSingleton<IStateStore>(store);
        services.AddSingleton(new ModelStore(Path.Combine(dataDir, "models")));
        services.AddSingleton(strategies ?? StrategyRegistry.CreateDefault());
        services.AddSingleton(strategyServices ?? StrategyServices.None);
        services.AddSingleton(new AdminAuthenticator(adminToken));
        services.AddSingleton(new NodeCertificates(options.RequireNodeCertificates, caFile is null ? null : Path.GetDirectoryName(caFile)));
        services.AddSingleton<NodeAuthenticator>();
        services.AddSingleton<NodeRegistry>();
        services.AddSingleton<TaskBoard>();
        services.AddSingleton<INodePool, ConnectedNodePool>();
        services.AddSingleton<RunExecutor>();
        services.AddSingleton<RunManager>();
        services.AddHostedService(sp => sp.GetRequiredService<RunManager>());
        services.AddHostedService<NodeMonitor>();

        var app = builder.Build();
        app.MapGrpcService<FleetService>();
        app.MapGrpcService<ControlService>();
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", () => Results.Text("ready"));
        await app.StartAsync(ct);

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(bound.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        if (certificate is not null) uri = new UriBuilder(uri) { Scheme = "https", Host = uri.Host == "127.0.0.1" ? "localhost" : uri.Host }.Uri;
        return new CohortServerHost(app, uri, adminToken, caFile, dataDir);
    }

    /// <summary>Completes when the server shuts down (Ctrl+C, SIGTERM or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    /// <summary>Stops accepting calls and ends background work; a running run resumes at the next start.</summary>
    public Task StopAsync(CancellationToken ct = default) => _app.StopAsync(ct);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync(CancellationToken.None);
        }
        catch (ObjectDisposedException)
        {
        }
        await _app.DisposeAsync();
    }

    /// <summary>Path of the admin token file in a data folder.</summary>
    public static string AdminTokenFile(string dataDir) => Path.Combine(dataDir, "admin.token");

    private static string LoadOrCreateAdminToken(string dataDir)
    {
        string file = AdminTokenFile(dataDir);
        if (File.Exists(file)) return File.ReadAllText(file).Trim();
        string token = Tokens.New();
        CertificateAuthority.WriteSecret(file, token + "\n");
        return token;
    }
}
