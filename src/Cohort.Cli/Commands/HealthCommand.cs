using System.CommandLine;
using Cohort.Transport.Channels;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort health</c>: asks a server's /healthz (or /readyz) and exits 0 when it answers 200. Container
/// images have no curl or shell, so their health check runs the <c>cohort</c> binary itself.
/// </summary>
internal static class HealthCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var url = new Option<string?>("--url")
        {
            Description = "Health endpoint (the dashboard listener serves /healthz and /readyz) [default: /healthz at the dashboard address in DATA_DIR/dashboard.url that a server running on that data folder writes, else https://127.0.0.1:7301/healthz]",
        };
        var ca = new Option<string?>("--ca") { Description = "CA certificate (PEM) to trust (default: DATA_DIR/tls/ca.crt when present)" };
        var dataDir = new Option<string>("--data-dir") { Description = "The server's data folder, where the default CA is read from", DefaultValueFactory = _ => ".cohort" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the answer", DefaultValueFactory = _ => 3.0 };
        var command = new Command("health", "Check that a server answers its health endpoint (exit 0 when healthy); for container health checks")
        {
            url, ca, dataDir, timeout,
        };
        command.SetAction(async (pr, ct) =>
        {
            string target = pr.GetValue(url) ?? Running(pr.GetValue(dataDir)!) ?? "https://127.0.0.1:7301/healthz";
            if (!Uri.TryCreate(target, UriKind.Absolute, out var uri) || (uri.Scheme != "https" && uri.Scheme != "http"))
                throw new CliException($"--url '{target}' is not an http(s) address");
            string? caFile = pr.GetValue(ca) ?? DefaultCa(pr.GetValue(dataDir)!);
            using var handler = new SocketsHttpHandler();
            if (uri.Scheme == "https")
            {
                if (caFile is null) throw new CliException($"{target}: needs --ca (no {Path.Combine(pr.GetValue(dataDir)!, "tls", "ca.crt")})");
                handler.SslOptions.RemoteCertificateValidationCallback = CertificateTrust.ServerValidation(CertificateTrust.LoadCertificate(caFile));
            }
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(pr.GetValue(timeout)) };
            try
            {
                using var response = await http.GetAsync(uri, ct);
                string body = (await response.Content.ReadAsStringAsync(ct)).Trim();
                Console.WriteLine($"{target}: {(int)response.StatusCode} {body}");
                return response.IsSuccessStatusCode ? 0 : 1;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // The TLS layer's own message ("could not be established, see inner exception") names no reason.
                string reason = ConnectionFailure.Of(e, target, caFile)?.Reason ?? $"{target}: {e.Message}";
                Console.Error.WriteLine($"cohort: {reason}");
                return 1;
            }
        });
        return command;
    }

    // The /healthz of the server running on the data folder, from the dashboard address it wrote there; null when none.
    private static string? Running(string dataDir)
    {
        string file = Cohort.Server.Hosting.CohortServerHost.DashboardAddressFile(dataDir);
        if (!File.Exists(file)) return null;
        string text = File.ReadAllText(file).Trim();
        return Uri.TryCreate(text, UriKind.Absolute, out var dashboard) ? new Uri(dashboard, "healthz").ToString() : null;
    }

    private static string? DefaultCa(string dataDir)
    {
        string file = Path.Combine(dataDir, "tls", "ca.crt");
        return File.Exists(file) ? file : null;
    }
}
