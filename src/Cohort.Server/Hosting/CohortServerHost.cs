using System.Net;
using System.Security.Cryptography.X509Certificates;
using Cohort.Audit;
using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Server.Control;
using Cohort.Server.Dashboard;
using Cohort.Server.Fleet;
using Cohort.Server.Observability;
using Cohort.Server.Runs;
using Cohort.Server.Security;
using Cohort.Server.Security.Provisioning;
using Cohort.Server.State;
using Cohort.Strategies;
using Cohort.Transport.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Cohort.Server.Hosting;

/// <summary>
/// A running Cohort server: Fleet and Control APIs over gRPC (TLS unless insecure), health endpoints,
/// SQLite state and the model store in the data folder. Start with <see cref="StartAsync"/>.
/// </summary>
public sealed class CohortServerHost : IAsyncDisposable
{
    /// <summary>The largest message a Fleet call takes from a node (a result's header, manifest or chunk).</summary>
    internal const int MaxFleetMessageBytes = 1 << 20;

    /// <summary>The largest message a Control call takes (a submitted plan of at most 1 MiB, with room for its other fields).</summary>
    internal const int MaxControlMessageBytes = 2 << 20;

    private readonly WebApplication _app;
    private readonly DataDirectoryLock _lock;
    private readonly AuditLedger _ledger;
    private readonly IStateStore _store;
    private readonly ModelStore _models;

    private CohortServerHost(WebApplication app, DataDirectoryLock dataLock, AuditLedger ledger, IStateStore store, ModelStore models, Uri address, Uri? dashboardAddress, string adminToken, string? caFile, string dataDir)
    {
        _app = app;
        _lock = dataLock;
        _ledger = ledger;
        _store = store;
        _models = models;
        Address = address;
        DashboardAddress = dashboardAddress;
        AdminToken = adminToken;
        CaFile = caFile;
        DataDir = dataDir;
    }

    /// <summary>Where nodes and operators connect (https://… or http://… when insecure).</summary>
    public Uri Address { get; }

    /// <summary>Where browsers open the dashboard (also /metrics, /healthz, /readyz); null when it is switched off.</summary>
    public Uri? DashboardAddress { get; }

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
        if (options.Insecure && !(IPAddress.TryParse(options.Host, out var listenAddress) && IPAddress.IsLoopback(listenAddress)) && !options.AllowInsecureNetwork)
            throw new ArgumentException($"--insecure serves plaintext, which is for loopback only; --host {options.Host} is not a loopback address (add --allow-insecure-network to do it anyway)");
        if (options.Port is < 0 or > 65535)
            throw new ArgumentException($"--port must be 0 (a free one) to 65535, not {options.Port}");
        if (options.DashboardPort is < -1 or > 65535)
            throw new ArgumentException($"--dashboard-port must be -1 (no dashboard), 0 (a free one) or up to 65535, not {options.DashboardPort}");
        if (options.DashboardPort is > 0 && options.DashboardPort == options.Port)
            throw new ArgumentException($"--dashboard-port {options.DashboardPort} is --port's too: the dashboard listens on a port of its own (by default --port + 1)");
        if (!(options.NodeTimeout > options.HeartbeatInterval))
            throw new ArgumentException($"--node-timeout must be longer than the nodes' heartbeat interval ({options.HeartbeatInterval.TotalSeconds:0.###}s), not {options.NodeTimeout.TotalSeconds:0.###}s: every node would go offline between two heartbeats");
        if (options.NodeTimeout > MaxNodeTimeout)
            throw new ArgumentException($"--node-timeout must be at most {MaxNodeTimeout.TotalSeconds:0}s (a day), not {options.NodeTimeout.TotalSeconds:0.###}s: a node that died would count as online, and hold its tasks, for that long");
        // Budgets a server cannot work with: every upload refused, or every password check refused.
        if (options.UploadMemoryBytes <= 0)
            throw new ArgumentException($"--upload-memory-mb must be 1 or more, not {options.UploadMemoryBytes >> 20}: every result held in memory would be refused");
        if (options.NodeUploadMemoryBytes <= 0)
            throw new ArgumentException($"--node-upload-memory-mb must be 1 or more, not {options.NodeUploadMemoryBytes >> 20}: every result held in memory would be refused");
        if (options.SpoolUploadBytes < 0)
            throw new ArgumentException($"--spool-upload-mb must be 0 (keep every result in memory) or more, not {options.SpoolUploadBytes >> 20}");
        if (options.AggregationBufferBytes < 0)
            throw new ArgumentException($"--aggregation-buffer-mb must be 0 (fold each result as it arrives) or more, not {options.AggregationBufferBytes >> 20}");
        if (options.FailedAuthenticationsPerMinute < 1)
            throw new ArgumentException($"--failed-auth-per-minute must be 1 or more, not {options.FailedAuthenticationsPerMinute}: no password check would ever be made");
        if (options.MemoryHygieneRounds < 0)
            throw new ArgumentException($"--memory-hygiene-rounds must be 0 (off) or more, not {options.MemoryHygieneRounds}");
        if (options.MemoryHygieneSpacing < TimeSpan.Zero)
            throw new ArgumentException($"--memory-hygiene-seconds must be 0 or more, not {options.MemoryHygieneSpacing.TotalSeconds}");
        string dataDir = Path.GetFullPath(options.DataDir);
        DataFiles.EnsureFolder(dataDir);
        var dataLock = DataDirectoryLock.Acquire(dataDir);
        try
        {
            return await StartLockedAsync(options, dataLock, dataDir, strategies, strategyServices, logLevel, ct);
        }
        catch
        {
            dataLock.Dispose();
            throw;
        }
    }

    private static async Task<CohortServerHost> StartLockedAsync(
        ServerOptions options, DataDirectoryLock dataLock, string dataDir, StrategyRegistry? strategies, StrategyServices? strategyServices,
        LogLevel logLevel, CancellationToken ct)
    {
        string adminToken;
        if (options.AdminToken is not null)
        {
            Tokens.DemandStrong(options.AdminToken, "--admin-token");
            adminToken = options.AdminToken.Trim();
        }
        else
        {
            adminToken = LoadOrCreateAdminToken(dataDir);
        }

        X509Certificate2? certificate = null;
        string? caFile = null;
        IReadOnlyList<string> addedNames = [];
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
                (certFile, keyFile, addedNames) = CertificateAuthority.EnsureServerCertificate(tlsDir, options.TlsNames);
                caFile = Path.Combine(tlsDir, CertificateAuthority.CaFile);
            }
            certificate = Transport.Channels.CertificateTrust.LoadWithKey(certFile, keyFile);
        }
        string? clientCaFile = options.ClientCaFile ?? caFile;
        var clientCa = clientCaFile is null ? null : CertificateTrust.LoadCertificate(clientCaFile);
        // A federation CA (cohort certs init) means sites were provisioned with certificates: demand them by default.
        bool federationCa = options.ClientCaFile is not null || (clientCa is not null && FederationNames.KindOf(clientCa) == CertificateKind.Ca);
        bool requireNodeCertificates = options.RequireNodeCertificates ?? (federationCa && certificate is not null);
        if (requireNodeCertificates && (certificate is null || clientCaFile is null))
            throw new ArgumentException("mutual TLS needs TLS and a CA for node certificates (the generated one, or --client-ca)");
        if (options.RevocationListFile is { } crl && !File.Exists(crl)) throw new ArgumentException($"--crl: {crl} not found");
        string? revocationFile = options.RevocationListFile
            ?? (clientCaFile is null ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(clientCaFile))!, FederationAuthority.RevocationFile));

        // The ledger is signed with the TLS key, so anyone holding the server's certificate can check it; a server
        // without one keeps a dedicated signing key beside the ledger.
        var signer = certificate is { HasPrivateKey: true }
            ? new AuditSigner(certificate)
            : AuditSigner.LoadOrCreateDedicated(dataDir, "Cohort audit ledger");
        var ledger = AuditLedger.Open(dataDir, signer, "server");
        try
        {
            return await StartWithLedgerAsync(options, dataLock, dataDir, strategies, strategyServices, logLevel, certificate, caFile, clientCa, clientCaFile,
                requireNodeCertificates, federationCa, revocationFile, adminToken, ledger, addedNames, ct);
        }
        catch
        {
            ledger.Dispose();
            throw;
        }
    }

    private static async Task<CohortServerHost> StartWithLedgerAsync(
        ServerOptions options, DataDirectoryLock dataLock, string dataDir, StrategyRegistry? strategies, StrategyServices? strategyServices,
        LogLevel logLevel, X509Certificate2? certificate, string? caFile, X509Certificate2? clientCa, string? clientCaFile,
        bool requireNodeCertificates, bool federationCa, string? revocationFile, string adminToken, AuditLedger ledger, IReadOnlyList<string> addedNames,
        CancellationToken ct)
    {
        Transport.ThreadPoolFloor.Raise();
        // No reloading of configuration files: it watches the working folder and every folder below it (inotify), and a
        // data folder below the working folder would wake that watcher for every file a round writes.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        // The server's settings are its options: an appsettings.json in whatever folder it starts from is not its configuration
        // (it could add listeners and silence the log). Environment variables still set log levels (Logging__LogLevel__…).
        foreach (var file in builder.Configuration.Sources.OfType<Microsoft.Extensions.Configuration.FileConfigurationSource>().ToArray())
            builder.Configuration.Sources.Remove(file);
        builder.Logging.ClearProviders();
        // Scopes carry the run, round and node ids: fields in JSON lines, a "=>" prefix in plain lines.
        if (options.JsonLogs) builder.Logging.AddJsonConsole(o => { o.IncludeScopes = true; o.TimestampFormat = "O"; o.UseUtcTimestamp = true; });
        else
        {
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; o.IncludeScopes = true; });
            // A plain line keeps Cohort's ids, not the trace ids and request scope ASP.NET Core adds to every line
            // (JSON lines keep them, as fields a log store can correlate).
            builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.None);
            builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        }
        builder.Logging.SetMinimumLevel(logLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        int dashboardPort = options.DashboardPort ?? (options.Port == 0 ? 0 : options.Port + 1);
        PortCheck.EnsureFree(options.Host, options.Port, "Fleet and Control APIs", "--port");
        PortCheck.EnsureFree(options.Host, dashboardPort, "dashboard", "--dashboard-port");
        ListenOptions? grpcListener = null, dashboardListener = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Listeners come from the options below only, not from a Kestrel section of the environment (Kestrel__Endpoints__…).
            k.Configure(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), reloadOnChange: false);
            k.AddServerHeader = false;
            // Unlimited for gRPC uploads of large models; every other request is capped by RequestBodyLimits.
            k.Limits.MaxRequestBodySize = null;
            k.Limits.Http2.InitialConnectionWindowSize = 8 << 20;
            k.Limits.Http2.InitialStreamWindowSize = 4 << 20;
            k.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(20);
            k.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
            k.Listen(IPAddress.Parse(options.Host), options.Port, listen =>
            {
                grpcListener = listen;
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
            // Browsers speak HTTP/1.1 (or HTTP/2 over TLS only), and a plaintext gRPC listener must be
            // HTTP/2-only, so the dashboard gets a listener of its own.
            if (dashboardPort >= 0)
            {
                k.Listen(IPAddress.Parse(options.Host), dashboardPort, listen =>
                {
                    dashboardListener = listen;
                    if (certificate is null)
                    {
                        listen.Protocols = HttpProtocols.Http1;
                    }
                    else
                    {
                        listen.Protocols = HttpProtocols.Http1AndHttp2;
                        listen.UseHttps(certificate);
                    }
                });
            }
        });

        var services = builder.Services;
        // Every message a call receives is held whole while it is read, and a node may keep many calls open: the limits
        // are what the largest honest message needs (a plan of PlanLimits.MaxPlanBytes; a result's manifest or header,
        // its parameters come in chunks of 64 KiB), not more.
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = MaxControlMessageBytes;
            o.MaxSendMessageSize = 16 << 20;
            o.EnableDetailedErrors = false;
        }).AddServiceOptions<FleetService>(o => o.MaxReceiveMessageSize = MaxFleetMessageBytes);
        string databaseFile = Path.Combine(dataDir, "cohort.db");
        if (options.Database is not { Length: > 0 }) DataFiles.EnsureOwnerOnlyFile(databaseFile);
        IStateStore baseStore = options.Database is { Length: > 0 } database
            ? new PostgresStateStore(database)
            : new SqliteStateStore(databaseFile, options.SyncRounds);
        var models = new ModelStore(Path.Combine(dataDir, "models"), options.SyncRounds);
        WebApplication? app = null;
        try
        {
            await OpenStateAsync(baseStore, options, dataDir, ct);
            services.AddSingleton(options);
            services.AddSingleton(new ApiPort(() => grpcListener!.IPEndPoint!.Port));
            services.AddSingleton(ledger);
            // The executor is resolved at scrape time: it depends on the store, which depends on these metrics.
            services.AddSingleton(sp => new ServerMetrics(sp.GetRequiredService<NodeRegistry>(), baseStore,
                () => sp.GetRequiredService<RunExecutor>().Progress.All.Values.Count(p => p.WaitingReason is not null)));
            services.AddSingleton(sp =>
            {
                var hygiene = new MemoryHygiene(options, sp.GetRequiredService<ServerMetrics>(), sp.GetRequiredService<ILogger<MemoryHygiene>>());
                sp.GetRequiredService<NodeRegistry>().Registered += hygiene.NodeRegistered;
                return hygiene;
            });
            services.AddHostedService(sp => sp.GetRequiredService<MemoryHygiene>());
            services.AddSingleton<IStateStore>(sp => new InstrumentedStateStore(baseStore, sp.GetRequiredService<ServerMetrics>(), sp.GetRequiredService<MemoryHygiene>()));
            services.AddSingleton(models);
            services.AddSingleton<IModelStore>(sp => sp.GetRequiredService<ModelStore>());
            services.AddSingleton(strategies ?? StrategyRegistry.CreateDefault());
            var offered = strategyServices ?? StrategyServices.None;
            if (offered.AggregationBufferBytes == 0) offered = offered with { AggregationBufferBytes = options.AggregationBufferBytes };
            // Updates past the budget go beside spooled uploads: unlinked files, so nothing there outlives the process.
            offered = offered with
            {
                UpdateMemoryBytes = offered.UpdateMemoryBytes != StrategyServices.DefaultUpdateMemoryBytes ? offered.UpdateMemoryBytes : options.UpdateMemoryBytes,
                SpoolHoldBytes = offered.SpoolHoldBytes != StrategyServices.DefaultSpoolHoldBytes ? offered.SpoolHoldBytes : options.SpoolHoldBytes,
                SpillFolder = offered.SpillFolder ?? Path.Combine(dataDir, "spool"),
            };
            services.AddSingleton(offered);
            services.AddSingleton(sp => new RevocationListFile(revocationFile, clientCa, sp.GetRequiredService<ILogger<RevocationListFile>>()));
            services.AddSingleton(sp => new AdminAuthenticator(adminToken, clientCa is null ? null : new AdminCertificates(sp.GetRequiredService<RevocationListFile>())));
            services.AddSingleton(sp => new NodeCertificates(requireNodeCertificates, caFile is null ? null : Path.GetDirectoryName(caFile), sp.GetRequiredService<RevocationListFile>()));
            services.AddSingleton<NodeAuthenticator>();
            services.AddSingleton(new ViewerTokens(dataDir));
            services.AddSingleton<OperatorAuthenticator>();
            services.AddSingleton(new UserAccounts(dataDir, options.PasswordIterations));
            services.AddSingleton(new DashboardSessions(dataDir));
            services.AddSingleton<DashboardData>();
            services.AddSingleton<LiveFeed>();
            services.AddSingleton<PlanLibrary>();
            services.AddSingleton<NodeRegistry>();
            services.AddSingleton<RegistrationGate>();
            services.AddSingleton<TaskBoard>();
            services.AddSingleton<OfflineNodes>();
            services.AddSingleton<NodeRevocation>();
            services.AddSingleton<UploadBudget>();
            services.AddSingleton<OpenCalls>();
            services.AddSingleton(new FailedAuthentications(options.FailedAuthenticationsPerMinute));
            services.AddSingleton<ArrivingMessages>();
            services.AddSingleton(sp => new PasswordChecks(sp.GetRequiredService<FailedAuthentications>(), options.PasswordChecksAtOnce, options.PasswordChecksQueued));
            services.AddSingleton<LogThrottle>();
            services.AddSingleton<INodePool, ConnectedNodePool>();
            services.AddSingleton<RunExecutor>();
            services.AddSingleton<RunPreflight>();
            services.AddSingleton<RunManager>();
            services.AddHostedService(sp => sp.GetRequiredService<RunManager>());
            services.AddHostedService<NodeMonitor>();

            app = builder.Build();
            // The nodes connected when the server last stopped or crashed: a resumed run waits for them (RunExecutor). Their rows
            // say offline from here on, each until it registers again, so a node that never returns is not waited for at
            // every later start.
            var connectedBefore = (await baseStore.ListNodesAsync(ct)).Where(n => n.Status.IsConnected() && n.App is not null).ToArray();
            app.Services.GetRequiredService<NodeRegistry>().ExpectBack(connectedBefore.Select(n => (n.Name, n.App!)));
            foreach (var n in connectedBefore)
                await baseStore.UpdateNodeAsync(n with { Status = NodeStatus.Offline, Address = null, App = null, Version = null }, ct);
            app.Use(SecurityHeaders.Add);
            app.Use(RequestBodyLimits.Guard);
            app.Use(CallGate.Guard);
            app.Use(DashboardAccess.Guard);
            app.MapGrpcService<FleetService>();
            app.MapGrpcService<ControlService>();
            app.MapGet("/healthz", () => Results.Text("ok"));
            app.MapGet("/readyz", Ready);
            app.MapMetrics("/metrics", app.Services.GetRequiredService<ServerMetrics>().Registry);
            app.MapDashboard();
            await app.StartAsync(ct);
            app.Logger.LogInformation("Audit ledger {File}: {Signing}", ledger.Path, certificate is not null && ledger.KeyId == AuditSigner.KeyIdOf(certificate)
                ? $"signed with the server's TLS key (key {ledger.KeyId})"
                : $"signed with the dedicated ledger key {Path.Combine(dataDir, "audit-signing.key")} (key {ledger.KeyId}; the server has no TLS key)");
            // The default list is only a place to look: a kit without one (written before certs server copied it, or a CA
            // folder moved) would otherwise admit every revoked certificate without a word.
            if (addedNames.Count > 0)
                app.Logger.LogWarning("--tls-name {Names}: the server certificate did not name them; issued it again from this server's CA with them (nodes keep their ca.crt)", string.Join(", ", addedNames));
            if (federationCa && certificate is not null && clientCa is not null && revocationFile is not null && !File.Exists(revocationFile))
                app.Logger.LogWarning("no certificate revocation list at {Path}: revoked certificates are accepted until one is placed there (cohort certs revoke writes it in the CA folder)", revocationFile);
            // Created before names were checked (or written by hand): a user and an operator token of one name are one submitter to runs and site policies.
            var tokens = app.Services.GetRequiredService<ViewerTokens>();
            foreach (var user in app.Services.GetRequiredService<UserAccounts>().All.Where(u => tokens.Holds(u.Name)))
                app.Logger.LogWarning("A user and an operator token are both named '{Name}': runs record either as the same submitter and site policies cannot tell them apart; remove one ({File})", user.Name, ViewerTokens.FileIn(dataDir));

            // Kestrel writes the bound endpoint back into each listener, which tells the two ephemeral ports apart.
            var uri = PublicUri(grpcListener!, certificate is not null);
            var dashboard = dashboardListener is null ? null : PublicUri(dashboardListener, certificate is not null);
            // Operator commands run beside this data folder find the server there, whatever port it took (ControlOptions).
            File.WriteAllText(AddressFile(dataDir), uri + "\n");
            // And `cohort health --data-dir` finds the dashboard's listener (its /healthz), whatever port that took.
            if (dashboard is not null) File.WriteAllText(DashboardAddressFile(dataDir), dashboard + "\n");
            else File.Delete(DashboardAddressFile(dataDir));
            return new CohortServerHost(app, dataLock, ledger, baseStore, models, uri, dashboard, adminToken, caFile, dataDir);
        }
        catch
        {
            // A start that fails (a damaged state, a port in use, a failure after the start) leaves nothing running and no
            // connection to the database behind.
            await CloseAsync(app, baseStore, models);
            throw;
        }
    }

    // Stops what the server runs, then closes its stores: their connections (SQLite's, or PostgreSQL's pool) and files
    // close with the server, not with the process.
    private static async Task CloseAsync(WebApplication? app, IStateStore store, ModelStore models)
    {
        if (app is not null)
        {
            try
            {
                await app.StopAsync(CancellationToken.None);
            }
            catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or ObjectDisposedException)
            {
                // Never started, or already stopped and disposed.
            }
            await app.DisposeAsync();
        }
        if (store is IAsyncDisposable owned) await owned.DisposeAsync();
        models.Dispose();
    }

    /// <summary>
    /// Opens the state store and checks it against the model store: a damaged database, one with no
    /// runs while DATA_DIR/models holds runs' checkpoints (emptied or replaced), or one that does not know some of
    /// the runs there (older than the models), stops the start with the way out, unless <see cref="ServerOptions.Repair"/>
    /// asks to go on.
    /// </summary>
    private static async Task OpenStateAsync(IStateStore store, ServerOptions options, string dataDir, CancellationToken ct)
    {
        try
        {
            await store.InitializeAsync(ct);
        }
        catch (StateIntegrityException) when (options.Repair && store is SqliteStateStore sqlite && File.Exists(sqlite.Path))
        {
            string aside = $"{sqlite.Path}.damaged-{DateTime.UtcNow:yyyyMMddHHmmss}";
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (string suffix in new[] { "", "-wal", "-shm" })
            {
                if (File.Exists(sqlite.Path + suffix)) File.Move(sqlite.Path + suffix, aside + suffix);
            }
            await store.InitializeAsync(ct);
            await store.AddEventAsync(null, "state.repaired", $"damaged state moved to {aside}; started with an empty state", ct);
        }
        string models = Path.Combine(dataDir, "models");
        // A run's folder holds its models (round-NNNN.cps); a hidden folder, lost+found or an empty folder is none.
        string[] modelRuns = Directory.Exists(models)
            ? Directory.GetDirectories(models).Where(d => !Path.GetFileName(d).StartsWith('.') && Directory.EnumerateFiles(d, "round-*.cps").Any())
                .Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray()
            : [];
        if (modelRuns.Length == 0) return;
        var known = (await store.ListRunsAsync(null, ct)).Select(r => r.Id).ToHashSet();
        // Runs the database has never heard of: it was emptied or replaced, or is older than the models (an older backup
        // restored, or its last writes lost), and those runs (one running, perhaps) would vanish without a word.
        var unknown = modelRuns.Where(r => !known.Contains(r)).ToArray();
        if (unknown.Length == 0) return;
        if (options.Repair)
        {
            // Going on without them: their folders move aside, so later starts (without --repair) do not stop on them
            // again, and nothing is deleted.
            string aside = Path.Combine(models, $".orphaned-{DateTime.UtcNow:yyyyMMddHHmmss}");
            Directory.CreateDirectory(aside);
            foreach (string run in unknown) Directory.Move(Path.Combine(models, run), Path.Combine(aside, run));
            await store.AddEventAsync(null, "state.repaired", $"the checkpoints of {unknown.Length} run(s) the state does not know ({Listed(unknown)}) moved to {aside}", ct);
            return;
        }
        string where = store is SqliteStateStore sqliteStore ? sqliteStore.Path : "the PostgreSQL state";
        const string repair = "start with --repair to go on without them (their folders move to models/.orphaned-TIME)";
        if (known.Count == 0)
        {
            string hint = store is SqliteStateStore h ? h.RepairHint : $"restore the database from a backup, or {repair}";
            throw new StateIntegrityException(
                $"{where} holds no runs, but {models} holds checkpoints of {modelRuns.Length} run(s) ({Listed(modelRuns)}): the state was emptied or replaced; {hint}");
        }
        throw new StateIntegrityException(
            $"{where} does not know {unknown.Length} run(s) whose checkpoints are in {models} ({Listed(unknown)}): the state is older than the models " +
            $"(an older backup restored, or its last writes lost); restore a backup taken after those runs were submitted, or {repair}");

        static string Listed(string[] runs) => $"{string.Join(", ", runs.Take(3))}{(runs.Length > 3 ? ", …" : "")}";
    }

    /// <summary>The error that stopped a background service (run manager, node monitor), if one did; a stop for that reason is a failure.</summary>
    public Exception? Fault => _app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>()
        .OfType<Microsoft.Extensions.Hosting.BackgroundService>()
        .Select(s => s.ExecuteTask)
        .FirstOrDefault(t => t is { IsFaulted: true })?.Exception?.GetBaseException();

    /// <summary>Completes when the server shuts down (Ctrl+C, SIGTERM or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    /// <summary>Stops accepting calls and ends background work; a running run resumes at the next start.</summary>
    public Task StopAsync(CancellationToken ct = default) => _app.StopAsync(ct);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await CloseAsync(_app, _store, _models);
        try
        {
            File.Delete(AddressFile(DataDir));
            File.Delete(DashboardAddressFile(DataDir));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A stale address only sends a later command to a closed port, which it reports.
        }
        _ledger.Dispose();
        _lock.Dispose();
    }

    /// <summary>Path of the admin token file in a data folder.</summary>
    public static string AdminTokenFile(string dataDir) => Path.Combine(dataDir, "admin.token");

    // The longest --node-timeout: a dead node's tasks wait out the timeout before they go to others or fail.
    private static readonly TimeSpan MaxNodeTimeout = TimeSpan.FromDays(1);

    /// <summary>Path of the file holding the address of the server running on a data folder (removed when it stops).</summary>
    public static string AddressFile(string dataDir) => Path.Combine(dataDir, "server.url");

    /// <summary>Path of the file holding the dashboard's address (where /healthz and /readyz answer) of the server running on a data folder.</summary>
    public static string DashboardAddressFile(string dataDir) => Path.Combine(dataDir, "dashboard.url");

    private static Uri PublicUri(ListenOptions listener, bool tls)
    {
        var endpoint = listener.IPEndPoint!;
        string host = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any) || IPAddress.IsLoopback(endpoint.Address)
            ? (tls ? "localhost" : "127.0.0.1")
            : endpoint.Address.ToString();
        return new UriBuilder(tls ? "https" : "http", host, endpoint.Port).Uri;
    }

    private static async Task<IResult> Ready(IStateStore store, CancellationToken ct)
    {
        var (status, body) = await ReadinessAsync(store, ct);
        return Results.Text(body, statusCode: status);
    }

    /// <summary>
    /// /readyz: 200 "ready" when the state store answers within two seconds; otherwise 503 with one line saying why,
    /// the same for SQLite and PostgreSQL (both throw a <see cref="System.Data.Common.DbException"/> when the database is unreachable).
    /// </summary>
    internal static async Task<(int Status, string Body)> ReadinessAsync(IStateStore store, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await store.ListNodesAsync(timeout.Token);
            return (StatusCodes.Status200OK, "ready");
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or System.Data.Common.DbException or IOException)
        {
            string reason = e is OperationCanceledException ? "no answer within 2 s" : e.Message;
            return (StatusCodes.Status503ServiceUnavailable, $"not ready: state store unavailable ({reason})");
        }
    }

    private static string LoadOrCreateAdminToken(string dataDir)
    {
        string file = AdminTokenFile(dataDir);
        if (File.Exists(file))
        {
            string existing = File.ReadAllText(file).Trim();
            Tokens.DemandStrong(existing, file);
            return existing;
        }
        string token = Tokens.New();
        CertificateAuthority.WriteSecret(file, token + "\n");
        return token;
    }
}
