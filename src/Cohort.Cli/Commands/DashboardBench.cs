using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cohort.Clients;
using Cohort.Engine.State;
using Cohort.Records;
using Cohort.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort bench dashboard</c>: how long the server takes to render the dashboard for a large stored
/// run (rounds × nodes results), next to a health request on the same connection as the floor.
/// </summary>
internal static class DashboardBench
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var rounds = new Option<int>("--rounds") { Description = "Rounds of the stored run", DefaultValueFactory = _ => 200 };
        var nodes = new Option<int>("--nodes") { Description = "Nodes per round (each with a fit and an evaluate result)", DefaultValueFactory = _ => 10 };
        var repeat = new Option<int>("--repeat") { Description = "Requests per page (after 3 warm-up requests)", DefaultValueFactory = _ => 20 };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var command = new Command("dashboard", "Dashboard render time for a stored run of ROUNDS x NODES results, against /healthz on the same connection")
        {
            rounds, nodes, repeat, json,
        };
        command.SetAction(async (pr, ct) =>
        {
            int r = pr.GetValue(rounds), n = pr.GetValue(nodes), k = pr.GetValue(repeat);
            string dir = Path.Combine(Path.GetTempPath(), "cohort-bench-dashboard-" + Guid.NewGuid().ToString("N")[..8]);
            var figures = BenchFigures.Begin(new JsonObject { ["rounds"] = r, ["nodes"] = n, ["repeat"] = k });
            try
            {
                await using (var server = await CohortServerHost.StartAsync(
                    new ServerOptions { Port = 0, DashboardPort = 0, Insecure = true, DataDir = dir }, logLevel: LogLevel.Warning, ct: ct))
                {
                    string id = await SeedAsync(server.Services.GetRequiredService<IStateStore>(), r, n, ct);
                    using var http = new HttpClient { BaseAddress = server.DashboardAddress };
                    http.DefaultRequestHeaders.Authorization = new("Bearer", server.AdminToken);
                    await MeasureAsync(http, "/healthz", "dashboard.healthz", k, figures, ct);
                    await MeasureAsync(http, $"/runs/{id}", "dashboard.run_page", k, figures, ct);
                    await MeasureAsync(http, "/", "dashboard.overview", k, figures, ct);
                    await MeasureAsync(http, "/runs", "dashboard.runs_list", k, figures, ct);
                    await MeasureAsync(http, "/metrics", "dashboard.metrics_scrape", k, figures, ct);
                }
            }
            finally
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
            if (pr.GetValue(json) is { } file)
            {
                await BenchFigures.SaveAsync(figures, file, ct);
            }
            return 0;
        });
        return command;
    }

    private static async Task MeasureAsync(HttpClient http, string path, string name, int repeat, JsonObject figures, CancellationToken ct)
    {
        long bytes = 0;
        var times = new double[repeat];
        for (int i = -3; i < repeat; i++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await http.GetAsync(path, ct);
            response.EnsureSuccessStatusCode();
            bytes = (await response.Content.ReadAsByteArrayAsync(ct)).LongLength;
            if (i >= 0) times[i] = watch.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        Print(figures, $"{name}.ms.median", times[repeat / 2]);
        Print(figures, $"{name}.ms.p90", times[Math.Min(repeat - 1, repeat * 9 / 10)]);
        Print(figures, $"{name}.kib", bytes / 1024.0);
    }

    /// <summary>Stores a finished run with plausible metrics and timings, deterministic (seed 7).</summary>
    private static async Task<string> SeedAsync(IStateStore store, int rounds, int nodes, CancellationToken ct)
    {
        var random = new Random(7);
        string id = "bench-dashboard";
        var t0 = DateTimeOffset.UtcNow.AddHours(-1);
        const string Plan = """
            name: bench-dashboard
            app: { name: empty }
            strategy: { name: fedavg }
            rounds: 1
            """;
        await store.SaveRunAsync(new RunRecord(id, "bench-dashboard", "bench", "empty", "fedavg", RunStatus.Finished, rounds, rounds, Plan,
            t0, t0, t0.AddSeconds(rounds), null), ct);
        for (int round = 1; round <= rounds; round++)
        {
            var start = t0.AddSeconds(round - 1);
            double progress = (double)round / rounds;
            for (int node = 0; node < nodes; node++)
            {
                string name = $"site{node:D2}";
                double acc = 0.6 + 0.3 * progress + 0.05 * random.NextDouble();
                await store.AddNodeResultAsync(new NodeResultRecord(id, round, name, TaskKind.Fit.ToPhaseText(), true, null, 200, 0.7 - 0.3 * progress,
                    Metrics(("train_accuracy", acc)), 0.2 + 0.1 * random.NextDouble(), 4096, start.AddSeconds(0.4)), ct);
                await store.AddNodeResultAsync(new NodeResultRecord(id, round, name, TaskKind.Evaluate.ToPhaseText(), true, null, 100, 0.7 - 0.3 * progress,
                    Metrics(("accuracy", acc), ("auc", acc + 0.05)), 0.01, 0, start.AddSeconds(0.6)), ct);
            }
            await store.SaveRoundAsync(new RoundRecord(id, round, RoundStatus.Done, start, start.AddSeconds(0.7), 0.001, 0.7 - 0.3 * progress,
                Metrics(("accuracy", 0.6 + 0.3 * progress), ("auc", 0.65 + 0.3 * progress)), Metrics(("train_accuracy", 0.62 + 0.3 * progress)),
                null, Records.Metrics.Empty, null), ct);
        }
        return id;
    }

    private static Metrics Metrics(params (string Key, double Value)[] values) =>
        new(values.Select(v => KeyValuePair.Create(v.Key, Scalar.Of(v.Value))));

    private static void Print(JsonObject figures, string name, double value) => BenchFigures.Print(figures, name, value);
}
