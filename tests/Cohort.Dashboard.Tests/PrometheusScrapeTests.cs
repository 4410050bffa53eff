using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Cohort.Dashboard.Tests.Infrastructure;
using Cohort.Engine.State;

namespace Cohort.Dashboard.Tests;

/// <summary>A real Prometheus (Debian's package) scrapes the server's /metrics over TLS with a viewer token.</summary>
[Collection(DashboardCollection.Name)]
public sealed class PrometheusScrapeTests(Federation federation)
{
    private const string Binary = "/usr/bin/prometheus";

    [Fact]
    public async Task Prometheus_scrapes_nodes_rounds_durations_bytes_and_failures_by_reason()
    {
        // ./test.sh installs it; without it this test fails (a test that passes without doing its work hides the gap).
        Assert.True(File.Exists(Binary), $"{Binary} not found; install it with 'apt-get install -y --no-install-recommends prometheus' (./test.sh does)");
        string dir = Path.Combine(Path.GetTempPath(), "cohort-prom-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "token"), federation.ViewerToken);
        int port = FreePort();
        var target = federation.Host.DashboardAddress!;
        await File.WriteAllTextAsync(Path.Combine(dir, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: cohort
                scheme: https
                tls_config:
                  ca_file: {federation.Host.CaFile}
                  server_name: localhost
                authorization:
                  type: Bearer
                  credentials_file: {Path.Combine(dir, "token")}
                static_configs:
                  - targets: ['127.0.0.1:{target.Port}']
            """);
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            ArgumentList =
            {
                $"--config.file={Path.Combine(dir, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(dir, "data")}",
                $"--web.listen-address=127.0.0.1:{port}",
            },
        };
        using var prometheus = Process.Start(start)!;
        var log = new System.Text.StringBuilder();
        prometheus.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        prometheus.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        prometheus.BeginErrorReadLine();
        prometheus.BeginOutputReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            int doneRounds = (await federation.Store.ListRoundsAsync(federation.HeartRun, CancellationToken.None)).Count
                + (await federation.Store.ListRoundsAsync(federation.HeartRunFast, CancellationToken.None)).Count;

            Assert.Equal(1, await WaitForValueAsync(http, "up{job=\"cohort\"}", v => v == 1, log));
            Assert.Equal(Federation.NodeCount, await WaitForValueAsync(http, "cohort_nodes_online", v => v == Federation.NodeCount, log));
            Assert.True(await WaitForValueAsync(http, "cohort_rounds_total{outcome=\"done\"}", v => v >= doneRounds, log) >= doneRounds);
            Assert.True(await WaitForValueAsync(http, "cohort_round_duration_seconds_count", v => v >= doneRounds, log) >= doneRounds);
            Assert.True(await WaitForValueAsync(http, "cohort_aggregation_seconds_count", v => v >= doneRounds, log) >= doneRounds);
            Assert.True(await WaitForValueAsync(http, "cohort_bytes_in_total", v => v > 0, log) > 0);
            Assert.True(await WaitForValueAsync(http, "cohort_bytes_out_total", v => v > 0, log) > 0);
            Assert.Equal(1, await WaitForValueAsync(http, "cohort_runs{status=\"running\"}", v => v == 1, log));
            Assert.True(await WaitForValueAsync(http, "sum(cohort_tasks_total{outcome=\"ok\"})", v => v > 0, log) > 0);
            // The hospital without data failed its fit and evaluate tasks in every heart-disease round.
            int failed = (await federation.Store.ListNodeResultsAsync(federation.HeartRun, CancellationToken.None)).Count(x => !x.Ok)
                + (await federation.Store.ListNodeResultsAsync(federation.HeartRunFast, CancellationToken.None)).Count(x => !x.Ok);
            Assert.True(failed >= 16);
            Assert.True(await WaitForValueAsync(http, "cohort_task_failures_total{reason=\"node_error\"}", v => v >= failed, log) >= failed);
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<double> WaitForValueAsync(HttpClient http, string query, Func<double, bool> accept, System.Text.StringBuilder log)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await http.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query));
                using var doc = JsonDocument.Parse(last);
                var result = doc.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() > 0)
                {
                    double value = double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
                    if (accept(value)) return value;
                }
            }
            catch (HttpRequestException)
            {
                // Prometheus is still starting.
            }
            await Task.Delay(500);
        }
        lock (log) throw new TimeoutException($"query {query} never gave an accepted value; last answer: {last}\nprometheus log:\n{log}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
