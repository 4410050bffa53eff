using System.Text;
using Cohort.Engine.State;
using Cohort.Server.Dashboard.Charts;

namespace Cohort.Server.Dashboard.Pages;

/// <summary>Several runs side by side: one chart with a curve per run for a chosen metric, and their parameters.</summary>
internal static class ComparePage
{
    /// <summary>Renders the page body.</summary>
    public static async Task<string> RenderAsync(DashboardData data, IReadOnlyList<string> ids, string? metric, CancellationToken ct)
    {
        var sb = new StringBuilder("<h1>Compare runs</h1>");
        var runs = new List<(RunRecord Run, IReadOnlyList<RoundRecord> Rounds)>();
        foreach (var id in ids.Distinct().Take(10))
        {
            if (await data.Store.GetRunAsync(id, ct) is { } run) runs.Add((run, await data.Store.ListRoundsAsync(id, ct)));
            else sb.Append("<p class=\"error\">no run '").Append(Html.E(id)).Append("'</p>");
        }
        if (runs.Count == 0)
            return sb.Append("<p class=\"muted\">pick runs on the <a href=\"/runs\">runs page</a> (tick their boxes, then “compare selected”).</p>").ToString();

        // Metrics offered: the federated loss, every numeric federated metric, and central ones prefixed "central ".
        var metrics = new List<string> { "loss" };
        foreach (var (_, rounds) in runs)
        {
            foreach (var r in rounds)
            {
                metrics.AddRange(r.Metrics.Where(kv => kv.Value.IsNumber).Select(kv => kv.Key));
                if (r.CentralLoss is not null) metrics.Add("central loss");
                metrics.AddRange(r.CentralMetrics.Where(kv => kv.Value.IsNumber).Select(kv => "central " + kv.Key));
            }
        }
        var offered = metrics.Distinct().ToArray();
        string chosen = metric is not null && offered.Contains(metric) ? metric : offered.Contains("accuracy") ? "accuracy" : "loss";

        sb.Append("<form class=\"filters\" method=\"get\" action=\"/compare\">");
        foreach (var (run, _) in runs) sb.Append("<input type=\"hidden\" name=\"id\" value=\"").Append(Html.E(run.Id)).Append("\">");
        sb.Append("<label>metric <select name=\"metric\">");
        foreach (var m in offered) sb.Append("<option").Append(m == chosen ? " selected" : "").Append('>').Append(Html.E(m)).Append("</option>");
        sb.Append("</select></label><button>show</button></form>");

        var series = runs.Select(x => new ChartSeries(x.Run.Id, SeriesKind.Run,
            x.Rounds.Where(r => r.Status == RoundStatus.Done).Select(r => ((double)r.Round, Pick(r, chosen) ?? double.NaN)).ToArray())).ToArray();
        sb.Append(LineChart.Render("compare-chart", $"{chosen} per round", series));

        sb.Append("<h2>Parameters</h2><table id=\"compare-params\"><tr><th></th>");
        foreach (var (run, _) in runs) sb.Append("<th><a href=\"/runs/").Append(Html.E(Uri.EscapeDataString(run.Id))).Append("\">").Append(Html.E(run.Id)).Append("</a></th>");
        sb.Append("</tr>");
        var rows = new (string Label, Func<RunRecord, IReadOnlyList<RoundRecord>, string> Value)[]
        {
            ("experiment", (r, _) => r.Experiment),
            ("status", (r, _) => r.Status.ToText()),
            ("strategy", (r, _) => r.Strategy),
            ("rounds", (r, _) => $"{r.RoundsDone} / {r.RoundsPlanned}"),
            ("optimizer", (r, _) => data.PlanOf(r).Plan?.Train.Optimizer ?? "–"),
            ("learning rate", (r, _) => Html.Num(data.PlanOf(r).Plan?.Train.LearningRate)),
            ("batch size", (r, _) => data.PlanOf(r).Plan?.Train.BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "–"),
            ("local epochs / steps", (r, _) => data.PlanOf(r).Plan is { } p ? $"{p.Train.LocalEpochs?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "–"} / {p.Train.LocalSteps?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "–"}" : "–"),
            ("best", (_, rounds) => RunView.Best(rounds) is { } b ? $"{b.Name} {Html.Num(b.Value)} (round {b.Round})" : "–"),
        };
        foreach (var (label, value) in rows)
        {
            sb.Append("<tr><th>").Append(Html.E(label)).Append("</th>");
            foreach (var (run, rounds) in runs) sb.Append("<td>").Append(Html.E(value(run, rounds))).Append("</td>");
            sb.Append("</tr>");
        }
        return sb.Append("</table>").ToString();
    }

    private static double? Pick(RoundRecord r, string metric) => metric switch
    {
        "loss" => r.Loss,
        "central loss" => r.CentralLoss,
        _ when metric.StartsWith("central ", StringComparison.Ordinal) => RunView.Value(r.CentralMetrics, metric["central ".Length..]),
        _ => RunView.Value(r.Metrics, metric),
    };
}
