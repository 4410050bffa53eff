using System.Globalization;
using System.Text;
using System.Text.Json;
using Cohort.Engine.State;
using Cohort.Transport.V1;

namespace Cohort.Cli.Control;

/// <summary>
/// A run's metrics as a table: one row per node, round and phase (what the app returned plus timings),
/// and per round the global rows: federated evaluation, aggregated fit metrics with the server's
/// aggregation time, and the central evaluation when there is one.
/// </summary>
internal static class RunMetricsExport
{
    /// <summary>Fixed columns, before one column per metric name.</summary>
    public static readonly string[] Columns =
        ["run", "round", "node", "phase", "ok", "examples", "loss", "duration_seconds", "upload_bytes", "aggregation_seconds", "round_seconds", "error"];

    /// <summary>Name of the pseudo-node of the aggregated (federated) rows.</summary>
    public const string Global = "(global)";

    /// <summary>Name of the pseudo-node of the server's central evaluation rows.</summary>
    public const string Central = "(central)";

    /// <summary>One row: fixed values (null when not applicable) and metrics.</summary>
    public sealed record Row(int Round, string Node, string Phase, bool Ok, long? Examples, double? Loss, double? DurationSeconds,
        long? UploadBytes, double? AggregationSeconds, double? RoundSeconds, string Error, IReadOnlyDictionary<string, Scalar> Metrics);

    /// <summary>The rows of a run, round by round: global rows first, then nodes by name and phase.</summary>
    public static IReadOnlyList<Row> Rows(RunDetail detail)
    {
        var rows = new List<Row>();
        foreach (var r in detail.Rounds.OrderBy(r => r.Round))
        {
            double? roundSeconds = RunReport.Seconds(r.StartedAt, r.FinishedAt) is var s && double.IsFinite(s) && r.FinishedAt.Length > 0 ? s : null;
            rows.Add(new Row(r.Round, Global, "fit", r.TypedStatus() == RoundStatus.Done, null, TrainingLoss(r.FitMetrics), null, null, r.AggregationSeconds, roundSeconds, r.Error, r.FitMetrics));
            if (double.IsFinite(r.Loss) || r.Metrics.Count > 0)
                rows.Add(new Row(r.Round, Global, "evaluate", true, null, Finite(r.Loss), null, null, null, null, "", r.Metrics));
            if (r.HasCentral)
                rows.Add(new Row(r.Round, Central, "evaluate", true, null, Finite(r.CentralLoss), null, null, null, null, "", r.CentralMetrics));
            foreach (var n in r.Nodes.OrderBy(n => n.Node, StringComparer.Ordinal).ThenBy(n => n.Phase, StringComparer.Ordinal))
                rows.Add(new Row(r.Round, n.Node, n.Phase, n.Ok, n.Examples, n.TypedPhase() == Cohort.Clients.TaskKind.Fit ? TrainingLoss(n.Metrics) : Finite(n.Loss), n.DurationSeconds, n.UploadBytes, null, null, n.Error, n.Metrics));
        }
        return rows;
    }

    /// <summary>Metric in which a fit result reports its training loss.</summary>
    public const string TrainingLossMetric = "train_loss";

    // A fit result carries no evaluation loss (the wire field stays 0); its loss is the training loss the app reports as a metric.
    private static double? TrainingLoss(IReadOnlyDictionary<string, Scalar> metrics) =>
        metrics.TryGetValue(TrainingLossMetric, out var v) ? Finite(RunReport.Value(v)) : null;

    /// <summary>CSV with a header; metric columns sorted by name; empty cells for missing values.</summary>
    public static string ToCsv(RunDetail detail)
    {
        var rows = Rows(detail);
        var metricNames = rows.SelectMany(r => r.Metrics.Keys).Distinct().Order(StringComparer.Ordinal).ToArray();
        var sb = new StringBuilder();
        sb.AppendJoin(',', Columns.Concat(metricNames).Select(Csv)).Append('\n');
        foreach (var r in rows)
        {
            string[] fixedValues =
            [
                detail.Run.Id, I(r.Round), r.Node, r.Phase, r.Ok ? "true" : "false", r.Examples is { } e ? I(e) : "", D(r.Loss), D(r.DurationSeconds),
                r.UploadBytes is { } u ? I(u) : "", D(r.AggregationSeconds), D(r.RoundSeconds), r.Error,
            ];
            sb.AppendJoin(',', fixedValues.Concat(metricNames.Select(m => r.Metrics.TryGetValue(m, out var v) ? Text(v) : "")).Select(Csv)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>JSON: the run's identity and an array of row objects (metrics nested under "metrics").</summary>
    public static string ToJson(RunDetail detail)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("run", detail.Run.Id);
            w.WriteString("name", detail.Run.Name);
            w.WriteString("experiment", detail.Run.Experiment);
            w.WriteString("strategy", detail.Run.Strategy);
            w.WriteString("status", detail.Run.Status);
            w.WriteStartArray("rows");
            foreach (var r in Rows(detail))
            {
                w.WriteStartObject();
                w.WriteNumber("round", r.Round);
                w.WriteString("node", r.Node);
                w.WriteString("phase", r.Phase);
                w.WriteBoolean("ok", r.Ok);
                Number(w, "examples", r.Examples);
                Number(w, "loss", r.Loss);
                Number(w, "duration_seconds", r.DurationSeconds);
                Number(w, "upload_bytes", r.UploadBytes);
                Number(w, "aggregation_seconds", r.AggregationSeconds);
                Number(w, "round_seconds", r.RoundSeconds);
                if (r.Error.Length > 0) w.WriteString("error", r.Error);
                w.WriteStartObject("metrics");
                foreach (var (k, v) in r.Metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    switch (v.ValueCase)
                    {
                        case Scalar.ValueOneofCase.DoubleValue when double.IsFinite(v.DoubleValue): w.WriteNumber(k, v.DoubleValue); break;
                        case Scalar.ValueOneofCase.IntValue: w.WriteNumber(k, v.IntValue); break;
                        case Scalar.ValueOneofCase.BoolValue: w.WriteBoolean(k, v.BoolValue); break;
                        case Scalar.ValueOneofCase.StringValue: w.WriteString(k, v.StringValue); break;
                        default: w.WriteNull(k); break;
                    }
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void Number(Utf8JsonWriter w, string name, double? v)
    {
        if (v is { } x && double.IsFinite(x)) w.WriteNumber(name, x);
    }

    private static void Number(Utf8JsonWriter w, string name, long? v)
    {
        if (v is { } x) w.WriteNumber(name, x);
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string D(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("R", CultureInfo.InvariantCulture) : "";

    private static string Text(Scalar v) => v.ValueCase switch
    {
        Scalar.ValueOneofCase.DoubleValue => D(v.DoubleValue),
        Scalar.ValueOneofCase.IntValue => I(v.IntValue),
        Scalar.ValueOneofCase.BoolValue => v.BoolValue ? "true" : "false",
        Scalar.ValueOneofCase.StringValue => v.StringValue,
        _ => "",
    };

    private static string Csv(string field) =>
        field.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
}
