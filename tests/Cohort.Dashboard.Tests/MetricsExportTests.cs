using System.Globalization;
using System.Text.Json;
using Cohort.Cli.Control;
using Cohort.Dashboard.Tests.Infrastructure;
using Cohort.Transport.Channels;

namespace Cohort.Dashboard.Tests;

/// <summary><c>cohort run metrics</c>: per-node, per-round metrics and timings through the Control API.</summary>
[Collection(DashboardCollection.Name)]
public sealed class MetricsExportTests(Federation federation)
{
    private const string ScoreHistogramKey = Cohort.Evaluation.ScoreHistogram.PositiveKey;

    [Fact]
    public async Task Csv_and_json_exports_hold_every_node_result_and_round_summary_with_timings()
    {
        using var control = new ControlClient(new ConnectionOptions(federation.Host.Address.ToString(), federation.Host.AdminToken, federation.Host.CaFile));
        var detail = await control.GetAsync(federation.HeartRun, CancellationToken.None);
        var results = await federation.Store.ListNodeResultsAsync(federation.HeartRun, CancellationToken.None);
        var rounds = await federation.Store.ListRoundsAsync(federation.HeartRun, CancellationToken.None);

        var lines = RunMetricsExport.ToCsv(detail).TrimEnd('\n').Split('\n');
        var header = lines[0].Split(',');
        Assert.Equal(RunMetricsExport.Columns, header[..RunMetricsExport.Columns.Length]);
        Assert.Contains("accuracy", header);
        Assert.Contains("auc", header);
        Assert.Contains("pr_auc", header);
        Assert.Contains("f1", header);
        Assert.Contains(ScoreHistogramKey, header);
        // Per round: aggregated fit, federated evaluation, then each node's fit and evaluate.
        Assert.Equal(1 + rounds.Count * (2 + results.Count / rounds.Count), lines.Length);

        int node = Array.IndexOf(header, "node"), phase = Array.IndexOf(header, "phase"), round = Array.IndexOf(header, "round");
        int loss = Array.IndexOf(header, "loss"), upload = Array.IndexOf(header, "upload_bytes"), aggregation = Array.IndexOf(header, "aggregation_seconds");
        var row = lines.Skip(1).Select(l => l.Split(',')).Single(c => c[node] == "cleveland" && c[phase] == "evaluate" && c[round] == "2");
        var stored = results.Single(x => x.Node == "cleveland" && x.Phase == "evaluate" && x.Round == 2);
        Assert.Equal(stored.Loss!.Value, double.Parse(row[loss], CultureInfo.InvariantCulture));
        var fit = lines.Skip(1).Select(l => l.Split(',')).Single(c => c[node] == "hungarian" && c[phase] == "fit" && c[round] == "1");
        var storedFit = results.Single(x => x.Node == "hungarian" && x.Phase == "fit" && x.Round == 1);
        Assert.Equal(storedFit.UploadBytes, long.Parse(fit[upload], CultureInfo.InvariantCulture));
        // A fit row's loss is the node's training loss, not the evaluation-loss field a fit leaves empty.
        Assert.Equal(storedFit.Metrics[RunMetricsExport.TrainingLossMetric].AsDouble(), double.Parse(fit[loss], CultureInfo.InvariantCulture));
        var global = lines.Skip(1).Select(l => l.Split(',')).Single(c => c[node] == RunMetricsExport.Global && c[phase] == "fit" && c[round] == "3");
        Assert.Equal(rounds[2].AggregationSeconds, double.Parse(global[aggregation], CultureInfo.InvariantCulture));
        Assert.Equal(rounds[2].FitMetrics[RunMetricsExport.TrainingLossMetric].AsDouble(), double.Parse(global[loss], CultureInfo.InvariantCulture));

        using var json = JsonDocument.Parse(RunMetricsExport.ToJson(detail));
        var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToArray();
        Assert.Equal(lines.Length - 1, rows.Length);
        var evaluated = rows.Single(r => r.GetProperty("node").GetString() == RunMetricsExport.Global && r.GetProperty("phase").GetString() == "evaluate" && r.GetProperty("round").GetInt32() == 4);
        Assert.Equal(rounds[3].Metrics["accuracy"].AsDouble(), evaluated.GetProperty("metrics").GetProperty("accuracy").GetDouble());
    }
}
