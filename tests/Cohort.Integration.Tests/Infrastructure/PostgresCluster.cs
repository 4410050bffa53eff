using System.Diagnostics;

namespace Cohort.Integration.Tests.Infrastructure;

/// <summary>A throwaway PostgreSQL cluster from Debian's binaries, on a free loopback port, removed afterwards.</summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private readonly string _dir;
    private readonly bool _asPostgresUser;

    private PostgresCluster(string dir, bool asPostgresUser, string connectionString)
    {
        _dir = dir;
        _asPostgresUser = asPostgresUser;
        ConnectionString = connectionString;
    }

    /// <summary>Npgsql connection string of the cluster's "postgres" database.</summary>
    public string ConnectionString { get; }

    /// <summary>Creates and starts a cluster (about two seconds).</summary>
    public static async Task<PostgresCluster> StartAsync()
    {
        if (!File.Exists(Path.Combine(Bin, "initdb")))
            throw new InvalidOperationException($"PostgreSQL is not installed ({Bin}/initdb missing): run ./test.sh, which installs it");
        string dir = Path.Combine(Path.GetTempPath(), "cohort-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        bool root = Environment.UserName == "root";
        string password = Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(Path.Combine(dir, "pw"), password);
        if (root)
        {
            // PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
            await RunAsync("chown", false, "-R", "postgres:postgres", dir);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        int port = TestServer.FreePort();
        await RunAsync(Path.Combine(Bin, "initdb"), root, "-D", Path.Combine(dir, "data"), "-U", "postgres", "--auth-host=scram-sha-256", "--auth-local=trust", $"--pwfile={Path.Combine(dir, "pw")}");
        await RunAsync(Path.Combine(Bin, "pg_ctl"), root, "-D", Path.Combine(dir, "data"), "-w", "-l", Path.Combine(dir, "log"),
            "-o", $"-c listen_addresses=127.0.0.1 -p {port} -k {dir} -c fsync=off", "start");
        return new PostgresCluster(dir, root, $"Host=127.0.0.1;Port={port};Username=postgres;Password={password};Database=postgres;Pooling=true");
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var source = Npgsql.NpgsqlDataSource.Create(ConnectionString);
        await using var cmd = source.CreateCommand($"CREATE DATABASE \"{name}\"");
        await cmd.ExecuteNonQueryAsync();
        return ConnectionString.Replace("Database=postgres", $"Database={name}", StringComparison.Ordinal);
    }

    private static async Task RunAsync(string program, bool asPostgres, params string[] args)
    {
        var psi = asPostgres ? new ProcessStartInfo("runuser") : new ProcessStartInfo(program);
        if (asPostgres)
        {
            foreach (var a in new[] { "-u", "postgres", "--", program }) psi.ArgumentList.Add(a);
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({p.ExitCode}): {await error}{await output}");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        try
        {
            await RunAsync(Path.Combine(Bin, "pg_ctl"), _asPostgresUser, "-D", Path.Combine(_dir, "data"), "-m", "fast", "-w", "stop");
        }
        finally
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
