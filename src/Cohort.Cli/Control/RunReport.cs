using System.Globalization;
using System.Text;
using Cohort.Engine.State;
using Cohort.Transport.V1;
using Google.Protobuf;
using Google.Protobuf.Collections;

namespace Cohort.Cli.Control;

/// <summary>Text and JSON renderings of runs and rounds shared by the operator commands and the demo.</summary>
internal static class RunReport
{
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithIndentation());

    /// <summary>Indented JSON of any message.</summary>
    public static string ToJson(IMessage message) => Json.Format(message);

    /// <summary>One line per round: global loss, accuracy, AUC, PR-AUC and F1 (each when the app reports it), then each node's loss, accuracy and AUC.</summary>
    public static string RoundLine(RoundInfo round, int planned) => RoundLine(round, planned, int.MaxValue);

    /// <summary>
    /// Like <see cref="RoundLine(RoundInfo, int)"/>; with more than <paramref name="maxNodes"/> nodes (a
    /// simulation of thousands) the per-node part becomes counts, and failures are listed up to that many.
    /// </summary>
    public static string RoundLine(RoundInfo round, int planned, int maxNodes)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"round {round.Round,3}/{planned}");
        if (round.TypedStatus() != RoundStatus.Done) return sb.Append(CultureInfo.InvariantCulture, $"  {round.Status}: {round.Error}").ToString();
        // A plan without federated evaluation (fraction_evaluate: 0) has only the central figures.
        if (round.Metrics.Count > 0 || double.IsFinite(round.Loss))
        {
            sb.Append(CultureInfo.InvariantCulture, $"  loss {Num(round.Loss)}  acc {Metric(round.Metrics, "accuracy")}");
            if (round.Metrics.ContainsKey("auc")) sb.Append(CultureInfo.InvariantCulture, $"  auc {Metric(round.Metrics, "auc")}");
            AppendImbalanceFigures(sb, round.Metrics);
        }
        if (round.HasCentral)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  central loss {Num(round.CentralLoss)} acc {Metric(round.CentralMetrics, "accuracy")}");
            if (round.CentralMetrics.ContainsKey("auc")) sb.Append(CultureInfo.InvariantCulture, $" auc {Metric(round.CentralMetrics, "auc")}");
            AppendImbalanceFigures(sb, round.CentralMetrics, " ");
        }
        var evaluations = round.Nodes.Where(n => n.TypedPhase() == Cohort.Clients.TaskKind.Evaluate).OrderBy(n => n.Node, StringComparer.Ordinal).ToArray();
        if (evaluations.Length == 0)
        {
            // No federated evaluation this round: nothing per node to show.
        }
        else if (evaluations.Length <= maxNodes)
        {
            // Each node's figures follow one legend: loss/accuracy, and AUC where the app reports it.
            sb.Append(evaluations.Any(n => n.Ok && n.Metrics.ContainsKey("auc")) ? "  | loss/acc/auc:" : "  | loss/acc:");
            foreach (var n in evaluations)
            {
                sb.Append(n.Ok
                    ? $" {n.Node} {Num(n.Loss)}/{Metric(n.Metrics, "accuracy")}{(n.Metrics.ContainsKey("auc") ? "/" + Metric(n.Metrics, "auc") : "")}"
                    : $" {n.Node} failed");
            }
        }
        else
        {
            int fitOk = round.Nodes.Count(n => n.TypedPhase() == Cohort.Clients.TaskKind.Fit && n.Ok), fit = round.Nodes.Count(n => n.TypedPhase() == Cohort.Clients.TaskKind.Fit);
            sb.Append(CultureInfo.InvariantCulture, $"  | fit {fitOk}/{fit} ok, evaluate {evaluations.Count(n => n.Ok)}/{evaluations.Length} ok");
        }
        var failed = round.Nodes.Where(n => !n.Ok).Select(n => $"{n.Node} ({n.Phase}): {n.Error}").ToArray();
        if (failed.Length > maxNodes) failed = [.. failed.Take(maxNodes), $"… {failed.Length - maxNodes} more"];
        if (failed.Length > 0) sb.Append("  failures: ").Append(string.Join("; ", failed));
        return sb.ToString();
    }

    // Binary apps that report them (the tabular app does) also get PR-AUC and F1: on imbalanced labels
    // accuracy and even AUC say little, and the line should show what does.
    private static void AppendImbalanceFigures(StringBuilder sb, MapField<string, Scalar> metrics, string gap = "  ")
    {
        if (metrics.ContainsKey("pr_auc")) sb.Append(CultureInfo.InvariantCulture, $"{gap}pr_auc {Metric(metrics, "pr_auc")}");
        if (metrics.ContainsKey("f1")) sb.Append(CultureInfo.InvariantCulture, $"{gap}f1 {Metric(metrics, "f1")}");
    }

    /// <summary>A metric formatted to three decimals, or "-".</summary>
    public static string Metric(MapField<string, Scalar> metrics, string key) =>
        metrics.TryGetValue(key, out var v) ? Num(Value(v)) : "-";

    /// <summary>The numeric value of a wire scalar (NaN when not numeric).</summary>
    public static double Value(Scalar v) => v.ValueCase switch
    {
        Scalar.ValueOneofCase.DoubleValue => v.DoubleValue,
        Scalar.ValueOneofCase.IntValue => v.IntValue,
        _ => double.NaN,
    };

    /// <summary>Three decimals, or "-" for NaN.</summary>
    public static string Num(double v) => double.IsFinite(v) ? v.ToString("0.000", CultureInfo.InvariantCulture) : "-";

    /// <summary>Seconds between two stored timestamps (or until now).</summary>
    public static double Seconds(string start, string end)
    {
        if (!DateTimeOffset.TryParse(start, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var s)) return double.NaN;
        var e = DateTimeOffset.TryParse(end, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var x) ? x : DateTimeOffset.UtcNow;
        return (e - s).TotalSeconds;
    }
}
