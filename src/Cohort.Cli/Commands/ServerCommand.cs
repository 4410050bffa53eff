using System.CommandLine;
using Cohort.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort server</c>: the coordinator.</summary>
internal static class ServerCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var host = new Option<string>("--host") { Description = "Address to listen on (0.0.0.0 for all interfaces)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-p") { Description = "Port for the Fleet and Control APIs (0 picks a free one)", DefaultValueFactory = _ => 7300 };
        var dataDir = new Option<string>("--data-dir") { Description = "Folder for state (SQLite), models, TLS material and the admin token", DefaultValueFactory = _ => ".cohort" };
        var cert = new Option<string?>("--tls-cert") { Description = "PEM certificate; without it (and without --insecure) a CA and certificate are generated in DATA_DIR/tls" };
        var key = new Option<string?>("--tls-key") { Description = "PEM private key of --tls-cert" };
        var tlsName = new Option<string[]>("--tls-name") { Description = "Extra host name or IP for the generated certificate (repeatable)", AllowMultipleArgumentsPerToken = true };
        var insecure = new Option<bool>("--insecure") { Description = "Serve plaintext HTTP/2 (local development only; loopback --host only)" };
        var allowInsecureNetwork = new Option<bool>("--allow-insecure-network") { Description = "Allow --insecure on a non-loopback --host (tokens then cross the network in clear)" };
        var adminToken = new Option<string?>("--admin-token") { Description = "Admin token for the Control API (default: generated into DATA_DIR/admin.token)" };
        var nodeTimeout = new Option<double>("--node-timeout") { Description = "Seconds without heartbeat before a node is offline", DefaultValueFactory = _ => 4.0 };
        var mtls = new Option<bool?>("--mtls") { Description = "Mutual TLS: nodes must also present a client certificate for their name (default: on with a federation CA — --client-ca or DATA_DIR/tls from cohort certs — else off; --mtls false turns it off)" };
        var clientCa = new Option<string?>("--client-ca") { Description = "PEM CA that issues node and admin certificates, e.g. the federation's ca.crt (default: the CA in DATA_DIR/tls)" };
        var crl = new Option<string?>("--crl") { Description = "PEM revocation list checked on every node and admin certificate, re-read when it changes (default: crl.pem beside the client CA)" };
        var database = new Option<string?>("--database") { Description = "PostgreSQL connection string for the state (default: $COHORT_DATABASE, else SQLite in DATA_DIR)" };
        var aggregationBuffer = new Option<int>("--aggregation-buffer-mb") { Description = "Memory for fit results waiting to be folded in batches (faster aggregation); 0 folds each as it arrives", DefaultValueFactory = _ => 256 };
        var uploadMemory = new Option<int>("--upload-memory-mb") { Description = "Memory all result uploads in progress may hold together; an upload that cannot fit waits, one larger than this is refused", DefaultValueFactory = _ => 1024 };
        var nodeUploadMemory = new Option<int>("--node-upload-memory-mb") { Description = "Memory one node's uploads in progress may hold together", DefaultValueFactory = _ => 512 };
        var spoolUpload = new Option<int>("--spool-upload-mb") { Description = "Fit results of at least this size are received to a file in the data folder and folded from there, not held in memory; 0 keeps every result in memory", DefaultValueFactory = _ => 16 };
        var updateMemory = new Option<int>("--update-memory-mb") { Description = "Memory strategies that need every update (fedmedian, fedtrimmedavg, krum, bulyan) may hold in a round's updates; past it they are kept on disk in the data folder and read a chunk at a time (the same model); 0 keeps them all on disk", DefaultValueFactory = _ => (int)(Strategies.StrategyServices.DefaultUpdateMemoryBytes >> 20) };
        var spoolHold = new Option<int>("--spool-hold-mb") { Description = "Disk sum-based strategies (fedavg, fedprox, fedavgm, fedadam...) may keep in a round's spooled results to fold them when the round ends, one accumulator segment at a time (server memory about 2x the model instead of 3x); past it results are folded as they arrive; 0 folds each at once", DefaultValueFactory = _ => (int)(Strategies.StrategyServices.DefaultSpoolHoldBytes >> 20) };
        var failedAuth = new Option<int>("--failed-auth-per-minute") { Description = "Failed authentications (API calls, dashboard logins) one address may make in a minute (counted from its first failure) before it is refused until that minute ends", DefaultValueFactory = _ => 30 };
        var durability = new Option<string>("--durability") { Description = "'power': each finished round (record, model, strategy state) is flushed to disk and survives a power loss; 'process': no flushes, everything survives a crash of the server process, a power loss may take the last rounds (a resumed run repeats them)", DefaultValueFactory = _ => "power" };
        durability.AcceptOnlyFromAmong("power", "process");
        var memoryHygiene = new Option<int>("--memory-hygiene-rounds") { Description = "Every this many rounds, give memory back after the round (a compacting collection and a trim of the native heap) so resident memory stays flat over long runs (one also follows node registrations); 0 turns both off", DefaultValueFactory = _ => 25 };
        var memoryHygieneSeconds = new Option<double>("--memory-hygiene-seconds") { Description = "The least time between two memory passes that rounds made due, for rounds so fast that a pass every --memory-hygiene-rounds of them costs too much CPU (resident memory then rises further between passes); 0: every --memory-hygiene-rounds rounds however fast", DefaultValueFactory = _ => 0 };
        var repair = new Option<bool>("--repair") { Description = "Start even if DATA_DIR/cohort.db is damaged (moved aside to cohort.db.damaged-TIME) or does not know runs whose models are in DATA_DIR/models (their folders moved to models/.orphaned-TIME)" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log debug detail" };
        var dashboardPort = new Option<int?>("--dashboard-port") { Description = "Port of the dashboard, /metrics and health endpoints (default: --port + 1, a free one when --port is 0; 0 picks a free one; -1 switches the dashboard off)" };
        var evaluationData = new Option<string?>("--evaluation-data") { Description = "Folder of test files plans may name in central_evaluation.file (relative to it; nothing outside it, no links, at most 1 GiB each) (default: DATA_DIR/evaluation)" };
        var plans = new Option<string[]>("--plans") { Description = "Folder of plan files (*.yaml) the dashboard offers when starting a run (repeatable)", AllowMultipleArgumentsPerToken = true };
        var logFormat = new Option<string>("--log-format") { Description = "Log lines as 'plain' or 'json' (JSON lines carry RunId, Round and NodeId fields)", DefaultValueFactory = _ => "plain" };
        logFormat.AcceptOnlyFromAmong("plain", "json");

        var command = new Command("server", "Run the coordinating server (Fleet API for nodes, Control API for operators)");
        var plugins = PluginOptions.Create();
        foreach (var o in new Option[] { host, port, dashboardPort, dataDir, cert, key, tlsName, insecure, allowInsecureNetwork, adminToken, nodeTimeout, mtls, clientCa, crl, database, aggregationBuffer, uploadMemory, nodeUploadMemory, spoolUpload, spoolHold, updateMemory, failedAuth, plans, evaluationData, logFormat, durability, memoryHygiene, memoryHygieneSeconds, repair, plugins, verbose }) command.Options.Add(o);
        command.SetAction(async (pr, ct) =>
        {
            if (pr.GetValue(cert) is not null && pr.GetValue(insecure)) throw new CliException("--tls-cert and --insecure exclude each other");
            if (pr.GetValue(cert) is not null && pr.GetValue(key) is null) throw new CliException("--tls-cert needs --tls-key");
            // Plugins load before anything listens: a bad one stops the server with its error, not in the first run.
            var strategies = Strategies.StrategyRegistry.CreateDefault();
            var loaded = PluginOptions.Load(pr.GetValue(plugins), strategies, apps: null);
            double hygieneSeconds = pr.GetValue(memoryHygieneSeconds);
            if (!(hygieneSeconds >= 0 && hygieneSeconds <= 86400)) throw new CliException($"--memory-hygiene-seconds must be 0 to 86400, not {hygieneSeconds}");
            if (pr.GetValue(updateMemory) < 0) throw new CliException($"--update-memory-mb must be 0 or more, not {pr.GetValue(updateMemory)}");
            if (pr.GetValue(spoolHold) < 0) throw new CliException($"--spool-hold-mb must be 0 or more, not {pr.GetValue(spoolHold)}");
            var options = new ServerOptions
            {
                Host = pr.GetValue(host)!,
                Port = pr.GetValue(port),
                DataDir = pr.GetValue(dataDir)!,
                TlsCertFile = pr.GetValue(cert),
                TlsKeyFile = pr.GetValue(key),
                TlsNames = pr.GetValue(tlsName) ?? [],
                Insecure = pr.GetValue(insecure),
                AllowInsecureNetwork = pr.GetValue(allowInsecureNetwork),
                RevocationListFile = pr.GetValue(crl),
                AdminToken = pr.GetValue(adminToken),
                // Clamped only so that TimeSpan can hold it; the server refuses anything over a day with the option's name.
                NodeTimeout = TimeSpan.FromSeconds(Math.Clamp(pr.GetValue(nodeTimeout), -1e9, 1e9)),
                RequireNodeCertificates = pr.GetValue(mtls),
                AggregationBufferBytes = (long)pr.GetValue(aggregationBuffer) << 20,
                UploadMemoryBytes = (long)pr.GetValue(uploadMemory) << 20,
                NodeUploadMemoryBytes = (long)pr.GetValue(nodeUploadMemory) << 20,
                SpoolUploadBytes = (long)pr.GetValue(spoolUpload) << 20,
                UpdateMemoryBytes = (long)pr.GetValue(updateMemory) << 20,
                SpoolHoldBytes = (long)pr.GetValue(spoolHold) << 20,
                FailedAuthenticationsPerMinute = pr.GetValue(failedAuth),
                Database = pr.GetValue(database) ?? Environment.GetEnvironmentVariable("COHORT_DATABASE"),
                ClientCaFile = pr.GetValue(clientCa),
                DashboardPort = pr.GetValue(dashboardPort),
                PlanDirectories = pr.GetValue(plans) ?? [],
                JsonLogs = pr.GetValue(logFormat) == "json",
                Repair = pr.GetValue(repair),
                SyncRounds = pr.GetValue(durability) == "power",
                MemoryHygieneRounds = pr.GetValue(memoryHygiene),
                MemoryHygieneSpacing = TimeSpan.FromSeconds(hygieneSeconds),
            };
            if (options.Insecure)
                Console.Error.WriteLine("WARNING: --insecure: plaintext HTTP/2, so node tokens, the admin token and model parameters cross the network readable and forgeable; use it on loopback for development only");
            // The built-in apps' server side: the tabular app's statistics step and central evaluation (files in the evaluation folder only).
            string evaluationFolder = Path.GetFullPath(pr.GetValue(evaluationData) ?? Path.Combine(options.DataDir, "evaluation"));
            if (Apps.Tabular.EvaluationFolder.Overlap(evaluationFolder, options.DataDir) is { } overlap) throw new CliException($"--evaluation-data: {overlap}");
            var services = new Strategies.StrategyServices { ServerApps = Apps.BuiltInApps.ServerApps(evaluationFolder) };
            await using var server = await CohortServerHost.StartAsync(options, strategies, strategyServices: services, logLevel: pr.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information, ct: ct);
            // Made once the server has made its data folder (owner-only), so that an operator finds where test files go.
            if (pr.GetValue(evaluationData) is null)
            {
                if (OperatingSystem.IsWindows()) Directory.CreateDirectory(evaluationFolder);
                else Directory.CreateDirectory(evaluationFolder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            Console.WriteLine($"Cohort server {ServerInfo.Version} listening on {server.Address}");
            if (server.DashboardAddress is { } dashboard) Console.WriteLine($"  dashboard:   {dashboard} (log in with the admin token; /metrics, /healthz, /readyz)");
            Console.WriteLine($"  data folder: {server.DataDir}");
            Console.WriteLine($"  test files:  {evaluationFolder} (central_evaluation.file)");
            if (server.CaFile is not null) Console.WriteLine($"  nodes trust: --ca {server.CaFile}");
            Console.WriteLine(server.Services.GetRequiredService<Server.Security.NodeCertificates>().Required
                ? "  nodes need:  their token and their client certificate (mutual TLS)"
                : "  nodes need:  their token (no client certificate; --mtls demands one)");
            Console.WriteLine($"  admin token: {CohortServerHost.AdminTokenFile(server.DataDir)}");
            foreach (var p in loaded)
                Console.WriteLine($"  plugin:      {p.File} (strategies: {(p.Strategies.Count == 0 ? "none" : string.Join(", ", p.Strategies.Select(s => s.Name)))})");
            IdleMemory.TrimAfterStartup(ct);
            await server.WaitForShutdownAsync(ct);
            // A background service that failed stopped the host: a supervisor must see a failure, not a clean stop.
            if (server.Fault is { } fault) throw new CliException($"server stopped: {fault.Message}");
            return 0;
        });
        return command;
    }
}
