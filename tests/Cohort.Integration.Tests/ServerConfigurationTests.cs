using System.Net.Sockets;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests;

/// <summary>
/// A server's listeners and log come from its own options: neither an appsettings.json in the folder it starts from
/// nor a Kestrel section in its environment can open another (plaintext) listener or silence its log.
/// </summary>
public sealed class ServerConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cohort-config-").FullName;

    [Fact]
    public async Task Kestrel_endpoints_from_the_environment_or_an_appsettings_file_open_no_listener_and_the_log_stays_on()
    {
        int fromEnvironment = TestServer.FreePort(), fromFile = TestServer.FreePort();
        await File.WriteAllTextAsync(Path.Combine(_dir, "appsettings.json"), $$"""
            {
              "Logging": { "LogLevel": { "Default": "None" } },
              "Kestrel": { "Endpoints": { "Extra": { "Url": "http://127.0.0.1:{{fromFile}}", "Protocols": "Http2" } } }
            }
            """);
        var environment = new Dictionary<string, string> { ["Kestrel__Endpoints__Other__Url"] = $"http://127.0.0.1:{fromEnvironment}" };
        await using var server = CliProcess.Start(["server", "--data-dir", Path.Combine(_dir, "data"), "--port", "0", "--dashboard-port", "0"], environment, workingDirectory: _dir);

        await server.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(60));
        // Logged once the server is up: the file's "None" did not reach the log.
        await server.WaitForOutputAsync("Audit ledger", TimeSpan.FromSeconds(10));

        Assert.False(await ListensAsync(fromEnvironment), $"a listener on {fromEnvironment} from Kestrel__Endpoints__Other__Url\n{server.Output}");
        Assert.False(await ListensAsync(fromFile), $"a listener on {fromFile} from appsettings.json\n{server.Output}");
    }

    [Theory]
    [InlineData("--port", "Fleet and Control APIs")]
    [InlineData("--dashboard-port", "dashboard")]
    public async Task A_port_another_process_holds_is_one_line_naming_it_and_its_option(string option, string purpose)
    {
        using var holder = new TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        int taken = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port;
        string[] ports = option == "--port" ? ["--port", $"{taken}", "--dashboard-port", "0"] : ["--port", "0", "--dashboard-port", $"{taken}"];

        var (exit, output) = await CliProcess.RunAsync(["server", "--data-dir", Path.Combine(_dir, "data"), .. ports], TimeSpan.FromSeconds(60));

        Assert.Equal(1, exit);
        Assert.Contains($"cohort: port {taken} on 127.0.0.1 ({purpose}) is in use by another process", output);
        Assert.Contains($"choose another with {option}", output);
        // No host failure with Kestrel's stack trace before it.
        Assert.DoesNotContain("Hosting failed", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Theory]
    [InlineData("ca.crt")]
    [InlineData("server.key")]
    public async Task A_tls_folder_missing_part_of_a_server_kit_is_refused_by_name_and_nothing_in_it_is_overwritten(string missing)
    {
        // A federation's server kit, copied into the data folder without one of its files.
        string fed = Path.Combine(_dir, "fed-ca"), kit = Path.Combine(_dir, "kit"), tls = Path.Combine(_dir, "data", "tls");
        var (code, output) = await CliProcess.RunAsync(["certs", "init", "--dir", fed, "--name", "acme"]);
        Assert.True(code == 0, output);
        (code, output) = await CliProcess.RunAsync(["certs", "server", "--ca-dir", fed, "--host", "localhost", "--out", kit]);
        Assert.True(code == 0, output);
        Directory.CreateDirectory(tls);
        foreach (var file in new[] { "ca.crt", "crl.pem", "server.crt", "server.key" }.Where(f => f != missing))
            File.Copy(Path.Combine(kit, file), Path.Combine(tls, file));
        var before = Directory.GetFiles(tls).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

        var (exit, started) = await CliProcess.RunAsync(["server", "--data-dir", Path.Combine(_dir, "data"), "--port", "0", "--dashboard-port", "-1"], TimeSpan.FromSeconds(60));

        Assert.Equal(1, exit);
        Assert.Contains($"but not {missing}: put the missing file back", started);
        Assert.DoesNotContain("listening on", started);
        var after = Directory.GetFiles(tls).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task A_tls_name_added_on_a_later_start_gets_a_new_server_certificate_from_the_same_ca()
    {
        string data = Path.Combine(_dir, "data"), tls = Path.Combine(data, "tls");
        await using (var first = CliProcess.Start(["server", "--data-dir", data, "--port", "0", "--dashboard-port", "-1", "--tls-name", "fl.example.org"]))
            await first.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(60));
        byte[] ca = await File.ReadAllBytesAsync(Path.Combine(tls, "ca.crt"));

        await using (var second = CliProcess.Start(["server", "--data-dir", data, "--port", "0", "--dashboard-port", "-1", "--tls-name", "192.0.2.7"]))
        {
            await second.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(60));
            await second.WaitForOutputAsync("--tls-name 192.0.2.7: the server certificate did not name them; issued it again from this server's CA with them", TimeSpan.FromSeconds(10));
        }
        using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(tls, "server.crt")));
        var san = certificate.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension>().Single();
        // The new name, and every name the certificate held before (the first start's --tls-name included).
        Assert.Contains("192.0.2.7", san.EnumerateIPAddresses().Select(ip => ip.ToString()));
        Assert.Contains("fl.example.org", san.EnumerateDnsNames());
        Assert.Contains("localhost", san.EnumerateDnsNames());
        Assert.Equal(ca, await File.ReadAllBytesAsync(Path.Combine(tls, "ca.crt")));

        // A federation's kit has no CA key here: the name cannot be added by the server, and the start says how.
        string fed = Path.Combine(_dir, "fed-ca"), kitData = Path.Combine(_dir, "kit-data");
        Assert.Equal(0, (await CliProcess.RunAsync(["certs", "init", "--dir", fed, "--name", "acme"])).ExitCode);
        Assert.Equal(0, (await CliProcess.RunAsync(["certs", "server", "--ca-dir", fed, "--host", "localhost", "--out", Path.Combine(kitData, "tls")])).ExitCode);
        var (exit, output) = await CliProcess.RunAsync(["server", "--data-dir", kitData, "--port", "0", "--dashboard-port", "-1", "--tls-name", "fl.acme.org"], TimeSpan.FromSeconds(60));
        Assert.Equal(1, exit);
        Assert.Contains("--tls-name fl.acme.org: ", output);
        Assert.Contains("issue the server certificate with --host fl.acme.org too (cohort certs server)", output);
    }

    [Fact]
    public async Task Health_with_the_data_folder_alone_asks_the_dashboard_of_the_server_running_there_whatever_port_it_took()
    {
        string data = Path.Combine(_dir, "data");
        await using var server = CliProcess.Start(["server", "--data-dir", data, "--port", "0"]);
        await server.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(60));
        var (code, output) = await CliProcess.RunAsync(["health", "--data-dir", data]);
        Assert.True(code == 0, output);
        Assert.Matches(@"^https://localhost:\d+/healthz: 200 ok", output.Trim());
        Assert.DoesNotContain(":7301/", output);
    }

    [Fact]
    public async Task A_dashboard_port_equal_to_the_api_port_is_one_line_naming_both_options()
    {
        int port = TestServer.FreePort();
        var (exit, output) = await CliProcess.RunAsync(["server", "--data-dir", Path.Combine(_dir, "data"), "--port", $"{port}", "--dashboard-port", $"{port}"], TimeSpan.FromSeconds(60));
        Assert.Equal(1, exit);
        Assert.Equal($"cohort: --dashboard-port {port} is --port's too: the dashboard listens on a port of its own (by default --port + 1)", output.Trim());
    }

    [Fact]
    public async Task The_apis_do_not_answer_on_the_dashboard_port()
    {
        await using var server = await TestServer.StartAsync();
        var dashboard = server.Host.DashboardAddress!;
        using var control = new Cohort.Cli.Control.ControlClient(new Cohort.Transport.Channels.ConnectionOptions(dashboard.ToString(), server.Host.AdminToken, server.Host.CaFile));

        var e = await Assert.ThrowsAnyAsync<Exception>(() => control.ListNodesAsync(default));

        Assert.Contains($"answer on port {server.Port}, not on the dashboard's", e.ToString());
        // The same client on the API's port works, and the dashboard still serves its pages.
        using var api = new Cohort.Cli.Control.ControlClient(new Cohort.Transport.Channels.ConnectionOptions(server.Host.Address.ToString(), server.Host.AdminToken, server.Host.CaFile));
        Assert.Empty(await api.ListNodesAsync(default));
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        Assert.Equal("ok", await http.GetStringAsync(new Uri(dashboard, "/healthz")));
    }

    [Theory]
    [InlineData("/cohort.v1.Control/ListNodes")]
    [InlineData("/COHORT.V1.CONTROL/listnodes")]
    public async Task A_call_to_the_apis_on_the_dashboard_port_is_refused_whatever_the_case_of_its_path(string path)
    {
        await using var server = await TestServer.StartAsync();
        using var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } };
        using var http = new HttpClient(handler);
        // One empty ListNodesRequest, framed as gRPC sends it.
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Host.DashboardAddress!, path))
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(new byte[5]),
        };
        request.Content.Headers.ContentType = new("application/grpc");
        request.Headers.Authorization = new("Bearer", server.Host.AdminToken);
        request.Headers.TE.Add(new("trailers"));

        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();

        string Header(string name) => response.Headers.TryGetValues(name, out var v) ? v.First()
            : response.TrailingHeaders.TryGetValues(name, out var t) ? t.First() : "";
        Assert.Equal("12", Header("grpc-status")); // Unimplemented
        Assert.Contains("not on the dashboard", Uri.UnescapeDataString(Header("grpc-message")));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0.5")]
    public async Task A_node_timeout_within_one_heartbeat_is_refused_at_start(string seconds)
    {
        var (exit, output) = await CliProcess.RunAsync(["server", "--data-dir", Path.Combine(_dir, "data"), "--port", "0", "--dashboard-port", "-1", "--node-timeout", seconds], TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exit);
        Assert.Contains($"--node-timeout must be longer than the nodes' heartbeat interval (1s), not {seconds}s", output);
        Assert.DoesNotContain("listening on", output);
    }

    [Theory]
    [InlineData("--node-timeout", "1e9", "--node-timeout must be at most 86400s (a day), not 1000000000s")]
    [InlineData("--upload-memory-mb", "-1", "--upload-memory-mb must be 1 or more, not -1: every result held in memory would be refused")]
    [InlineData("--node-upload-memory-mb", "0", "--node-upload-memory-mb must be 1 or more, not 0")]
    [InlineData("--spool-upload-mb", "-1", "--spool-upload-mb must be 0 (keep every result in memory) or more, not -1")]
    [InlineData("--aggregation-buffer-mb", "-5", "--aggregation-buffer-mb must be 0 (fold each result as it arrives) or more, not -5")]
    [InlineData("--failed-auth-per-minute", "0", "--failed-auth-per-minute must be 1 or more, not 0: no password check would ever be made")]
    public async Task A_budget_the_server_cannot_work_with_is_refused_at_start_naming_the_option(string option, string value, string message)
    {
        var (exit, output) = await CliProcess.RunAsync(["server", "--data-dir", Path.Combine(_dir, "data"), "--port", "0", "--dashboard-port", "-1", option, value], TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exit);
        Assert.Contains(message, output);
        Assert.DoesNotContain("listening on", output);
    }

    [Theory]
    [InlineData("--port", "99999", "--port must be 0 (a free one) to 65535, not 99999")]
    [InlineData("--dashboard-port", "-5", "--dashboard-port must be -1 (no dashboard), 0 (a free one) or up to 65535, not -5")]
    public async Task A_port_out_of_range_is_refused_naming_the_option(string option, string value, string message)
    {
        string[] args = option == "--port"
            ? ["server", "--data-dir", Path.Combine(_dir, "data"), "--dashboard-port", "-1", "--port", value]
            : ["server", "--data-dir", Path.Combine(_dir, "data"), "--port", "0", option, value];

        var (exit, output) = await CliProcess.RunAsync(args, TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exit);
        Assert.Contains(message, output);
    }

    private static async Task<bool> ListensAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(5));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
