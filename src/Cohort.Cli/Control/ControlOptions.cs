using System.CommandLine;
using Cohort.Server.Hosting;
using Cohort.Transport.Channels;

namespace Cohort.Cli.Control;

/// <summary>The options every operator command shares: where the server is and how to authenticate.</summary>
internal sealed class ControlOptions
{
    /// <summary>--server.</summary>
    public Option<string> Server { get; } = new("--server", "-s")
    {
        Description = "Server address (https://host:port; http:// needs --insecure) [default: $COHORT_SERVER, else the address in DATA_DIR/server.url that a server running on that data folder writes, else https://localhost:7300]",
    };

    /// <summary>--admin-token (alias --token).</summary>
    public Option<string?> AdminToken { get; } = new("--admin-token", "--token")
    {
        Description = "Admin token, operator token, or session token from `cohort login` (default: $COHORT_TOKEN, else $COHORT_ADMIN_TOKEN, else DATA_DIR/admin.token)",
    };

    /// <summary>--ca.</summary>
    public Option<string?> Ca { get; } = new("--ca")
    {
        Description = "CA certificate (PEM) to trust (default: DATA_DIR/tls/ca.crt when present)",
    };

    /// <summary>--insecure.</summary>
    public Option<bool> Insecure { get; } = new("--insecure")
    {
        Description = "Allow a plaintext http:// server (local development only)",
    };

    /// <summary>--allow-insecure-network.</summary>
    public Option<bool> AllowInsecureNetwork { get; } = new("--allow-insecure-network")
    {
        Description = "Allow --insecure to a server that is not on loopback (the token crosses the network in clear)",
    };

    /// <summary>--cert.</summary>
    public Option<string?> Certificate { get; } = new("--cert")
    {
        Description = "Operator certificate (PEM, cohort certs admin NAME --role R) to use instead of a token; its role decides what it may do",
    };

    /// <summary>--key.</summary>
    public Option<string?> Key { get; } = new("--key")
    {
        Description = "Private key (PEM) of --cert",
    };

    /// <summary>--data-dir.</summary>
    public Option<string> DataDir { get; } = new("--data-dir")
    {
        Description = "A local server's data folder, where the default admin token and CA are read from",
        DefaultValueFactory = _ => ".cohort",
    };

    /// <summary>Adds the options to a command.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Server);
        command.Options.Add(AdminToken);
        command.Options.Add(Ca);
        command.Options.Add(Insecure);
        command.Options.Add(AllowInsecureNetwork);
        command.Options.Add(Certificate);
        command.Options.Add(Key);
        command.Options.Add(DataDir);
    }

    /// <summary>Resolves the connection from parsed options, environment and the local data folder.</summary>
    /// <param name="pr">Parsed command line.</param>
    /// <param name="anonymous">True for <c>cohort login</c>, which authenticates with a password instead of a token.</param>
    public ConnectionOptions Resolve(ParseResult pr, bool anonymous = false)
    {
        string dataDir = pr.GetValue(DataDir)!;
        string? certificate = pr.GetValue(Certificate), key = pr.GetValue(Key);
        if ((certificate is null) != (key is null)) throw new CliException("--cert and --key go together");
        string? token = anonymous ? "" : pr.GetValue(AdminToken) ?? Environment.GetEnvironmentVariable("COHORT_TOKEN") ?? Environment.GetEnvironmentVariable("COHORT_ADMIN_TOKEN");
        // An admin certificate authenticates on its own; a token is then optional.
        if (token is null && certificate is not null) token = "";
        if (token is null)
        {
            string file = CohortServerHost.AdminTokenFile(dataDir);
            if (!File.Exists(file)) throw new CliException($"no admin token: pass --admin-token (or a token from `cohort login` as --token), set COHORT_TOKEN or COHORT_ADMIN_TOKEN, or run next to the server's data folder ({file} not found)");
            token = File.ReadAllText(file).Trim();
        }
        string? ca = pr.GetValue(Ca);
        if (ca is null)
        {
            string local = Path.Combine(dataDir, "tls", "ca.crt");
            if (File.Exists(local)) ca = local;
        }
        return new ConnectionOptions(ServerAddress(pr.GetValue(Server), dataDir), token, ca, pr.GetValue(Insecure), certificate, key, pr.GetValue(AllowInsecureNetwork));
    }

    /// <summary>--server when given, else $COHORT_SERVER, else the address a server running on <paramref name="dataDir"/> wrote, else the default port.</summary>
    internal static string ServerAddress(string? given, string dataDir)
    {
        if (given is not null) return given;
        if (Environment.GetEnvironmentVariable("COHORT_SERVER") is { Length: > 0 } fromEnvironment) return fromEnvironment;
        string file = CohortServerHost.AddressFile(dataDir);
        try
        {
            if (File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } written) return written;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Unreadable: the default port, as without the file.
        }
        return "https://localhost:7300";
    }
}
