using System.CommandLine;
using Cohort.Apps;
using Cohort.Node;
using Cohort.Records;
using Cohort.Transport.Channels;
using Microsoft.Extensions.Logging;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort node</c>: a site's long-running agent with a built-in client app.</summary>
internal static class NodeCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var server = new Option<string>("--server", "-s") { Description = "Server address (https://host:port)", Required = true };
        var name = new Option<string>("--name", "-n") { Description = "This site's name (the one its token was issued for)", Required = true };
        var token = new Option<string?>("--token") { Description = "Node token (default: $COHORT_NODE_TOKEN)" };
        var app = new Option<string>("--app") { Description = $"Client app: built-in ({string.Join(", ", BuiltInApps.Factories().Select(a => a.Name))}) or one a --plugin registers", Required = true };
        var plugins = PluginOptions.Create();
        var data = new Option<string[]>("--data")
        {
            Description = "A data set this site holds, NAME=PATH (repeatable): declared to the server by name and schema hash, given to the app when a plan names it (dataset: NAME). "
                + "A plain PATH (file, or folder e.g. for mnist) is the app's default data. The data never leaves the node",
        };
        var set = new Option<string[]>("--set") { Description = "Extra node-local app setting KEY=VALUE (repeatable)", AllowMultipleArgumentsPerToken = true };
        var ca = new Option<string?>("--ca") { Description = "CA certificate (PEM) to trust for the server" };
        var insecure = new Option<bool>("--insecure") { Description = "Allow a plaintext http:// server (local development only: loopback addresses)" };
        var allowInsecureNetwork = new Option<bool>("--allow-insecure-network") { Description = "Allow --insecure to a server that is not on loopback (the token crosses the network in clear)" };
        var cert = new Option<string?>("--cert") { Description = "Client certificate (PEM) for mutual TLS" };
        var key = new Option<string?>("--key") { Description = "Private key (PEM) of --cert" };
        var policy = new Option<string?>("--policy") { Description = "Site policy (YAML): the apps, strategies, limits, privacy and runs this site accepts; tasks outside it are refused (see docs/security.md)" };
        var capacity = new Option<int>("--capacity")
        {
            Description = "Tasks this node runs at the same time, for different runs (each run gets its own app instance)",
            DefaultValueFactory = _ => 1,
        };

        var maxModelBytes = new Option<long>("--max-model-bytes")
        {
            Description = "Largest model (bytes) this node accepts from the server for one task; a task over it fails naming the limit, and a site policy's max_model_bytes applies when lower",
            DefaultValueFactory = _ => ModelLimits.DefaultMaxModelBytes,
        };

        var stateDir = new Option<string?>("--state-dir")
        {
            Description = "Folder for the node's own audit ledger (every task received and result sent, with parameter digests; signed with --key when given); default: $COHORT_NODE_STATE_DIR, else none",
        };

        var command = new Command("node", "Run a site's node: connect out to the server, pull tasks, train locally, push parameters");
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log debug detail (each reconnection attempt, each task's steps)" };
        foreach (var o in new Option[] { server, name, token, app, data, set, ca, insecure, allowInsecureNetwork, cert, key, policy, capacity, maxModelBytes, stateDir, plugins, verbose }) command.Options.Add(o);
        command.SetAction(async (pr, ct) =>
        {
            string appName = pr.GetValue(app)!;
            int taskCapacity = pr.GetValue(capacity);
            if (taskCapacity is < 1 or > 64) throw new CliException($"--capacity: {taskCapacity} is out of range; a node runs 1 to 64 tasks at the same time");
            long modelBytes = pr.GetValue(maxModelBytes);
            if (modelBytes < 1) throw new CliException($"--max-model-bytes: {modelBytes} is out of range; give the largest model in bytes (at least 1)");
            // Read first: a site whose policy cannot be read must not start serving the server's tasks unchecked.
            Cohort.Sites.SitePolicy? sitePolicy = null;
            if (pr.GetValue(policy) is { } policyFile)
            {
                try
                {
                    sitePolicy = Cohort.Sites.SitePolicyParser.Load(policyFile);
                }
                catch (Cohort.Sites.SitePolicyException e)
                {
                    throw new CliException($"--policy: {e.Message}");
                }
            }
            var apps = Plugins.AppCatalog.CreateDefault();
            // Strategies too: a partition plan (--set partition.plan) may name a plugin's strategy.
            var strategies = Strategies.StrategyRegistry.CreateDefault();
            PluginOptions.Load(pr.GetValue(plugins), strategies, apps);
            IClientAppFactory factory = apps.Find(appName)
                ?? throw new CliException($"--app: unknown app '{appName}' (allowed: {apps.Names}){Records.NearestName.Hint(appName, apps.Names.Split(", "))}; an app of your own comes from its plugin: --plugin PATH.dll");
            // --set partition.plan=PLAN --set partition.client=NAME: this node works on that client's share of the plan's simulation data.
            if (factory is ISimulationAppFactory simulated) factory = new Cohort.Simulation.PartitionedAppFactory(simulated, strategies);
            string tokenValue = pr.GetValue(token) ?? Environment.GetEnvironmentVariable("COHORT_NODE_TOKEN")
                ?? throw new CliException("no node token: pass --token or set COHORT_NODE_TOKEN");
            var settings = new Dictionary<string, Scalar>(StringComparer.Ordinal);
            var datasets = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var value in pr.GetValue(data) ?? [])
            {
                var (datasetName, path) = DataArgument(value);
                if (!File.Exists(path) && !Directory.Exists(path)) throw new CliException($"--data {value}: '{path}' not found (a file, or a folder such as mnist's IDX folder)");
                // The tabular app reads one file: a folder would be accepted here and fail every run's preflight.
                if (Directory.Exists(path) && apps.Find(appName) is Apps.Tabular.TabularAppFactory)
                    throw new CliException($"--data {value}: '{path}' is a folder; app '{appName}' reads one CSV file (give the file itself)");
                if (datasetName is null)
                {
                    if (settings.ContainsKey("data")) throw new CliException($"--data {value}: a second plain path; name data sets as NAME=PATH");
                    settings["data"] = Path.GetFullPath(path);
                }
                else if (!datasets.TryAdd(datasetName, Path.GetFullPath(path)))
                {
                    throw new CliException($"--data {value}: data set '{datasetName}' is given twice");
                }
            }
            foreach (var kv in pr.GetValue(set) ?? [])
            {
                int eq = kv.IndexOf('=');
                if (eq <= 0) throw new CliException($"--set '{kv}': expected KEY=VALUE");
                settings[kv[..eq]] = kv[(eq + 1)..];
            }
            if (pr.GetValue(insecure))
                Console.Error.WriteLine("WARNING: --insecure: plaintext connection, so this node's token and its model parameters cross the network readable and forgeable; use it on loopback for development only");
            using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
                .SetMinimumLevel(pr.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information));
            var options = new NodeOptions
            {
                Connection = new ConnectionOptions(pr.GetValue(server)!, tokenValue, pr.GetValue(ca), pr.GetValue(insecure), pr.GetValue(cert), pr.GetValue(key), pr.GetValue(allowInsecureNetwork)),
                Name = pr.GetValue(name)!,
                NodeSettings = new Config(settings),
                Policy = sitePolicy,
                Capacity = taskCapacity,
                MaxModelBytes = modelBytes,
                Datasets = datasets,
                Logger = loggerFactory.CreateLogger("cohort.node"),
                StateDir = pr.GetValue(stateDir) ?? Environment.GetEnvironmentVariable("COHORT_NODE_STATE_DIR"),
            };
            if (sitePolicy is not null)
                options.Logger.LogInformation("Node {Node}: site policy {File} in force; tasks outside it are refused", options.Name, pr.GetValue(policy));
            try
            {
                await CohortNode.RunAsync(factory, options, ct);
            }
            catch (NodeRefusedException e)
            {
                throw new CliException(e.Message);
            }
            catch (ArgumentException e)
            {
                throw new CliException(e.Message);
            }
            catch (IOException e) when (e.Message.StartsWith("audit ledger", StringComparison.Ordinal))
            {
                throw new CliException(e.Message);
            }
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Splits a <c>--data</c> value: NAME=PATH names a data set, anything else is a plain path. A value whose
    /// text before '=' is no valid name (a path holding '=') is a path; so is one that names an existing file as a whole.
    /// </summary>
    public static (string? Name, string Path) DataArgument(string value)
    {
        int eq = value.IndexOf('=');
        if (eq <= 0) return (null, value);
        string name = value[..eq], path = value[(eq + 1)..];
        if (!DatasetName.IsValid(name)) return (null, value);
        if ((File.Exists(value) || Directory.Exists(value)) && !File.Exists(path) && !Directory.Exists(path)) return (null, value);
        if (path.Length == 0) throw new CliException($"--data {value}: no path after '='; expected NAME=PATH");
        return (name, path);
    }
}
