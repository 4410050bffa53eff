using System.Text;
using Cohort.Engine.State;
using Cohort.Server.Hosting;

namespace Cohort.Server.Dashboard.Pages;

/// <summary>The landing page: server facts, node and run counts, runs in progress, the latest rounds and events.</summary>
internal static class OverviewPage
{
    /// <summary>Renders the page body.</summary>
    public static async Task<string> RenderAsync(DashboardData data, CancellationToken ct)
    {
        var nodes = await data.NodesAsync(ct);
        var runs = await data.Store.ListRunsAsync(null, ct);
        int online = nodes.Count(n => n.Status.IsConnected());
        int Count(RunStatus s) => runs.Count(r => r.Status == s);
        var sb = new StringBuilder();
        sb.Append("<h1>Overview</h1><div class=\"cards\">")
          .Append(Card("version", ServerInfo.Version, "server"))
          .Append(Card("uptime", Html.Duration(DateTimeOffset.UtcNow - ServerInfo.StartedAt), "since " + Html.Time(ServerInfo.StartedAt)))
          .Append(Card("nodes-online", $"{online} / {nodes.Count}", "nodes connected / known"))
          .Append(Card("runs-running", Count(RunStatus.Running).ToString(System.Globalization.CultureInfo.InvariantCulture), $"running, {Count(RunStatus.Queued)} queued"))
          .Append(Card("runs-finished", Count(RunStatus.Finished).ToString(System.Globalization.CultureInfo.InvariantCulture), "finished"))
          .Append(Card("runs-failed", Count(RunStatus.Failed).ToString(System.Globalization.CultureInfo.InvariantCulture), $"failed, {Count(RunStatus.Stopped)} stopped"))
          .Append("</div>");

        var active = runs.Where(r => r.Status is RunStatus.Running or RunStatus.Queued).ToArray();
        if (active.Length > 0)
        {
            sb.Append("<h2>In progress</h2><table id=\"active-runs\"><tr><th>run</th><th>status</th><th>rounds</th><th>phase</th></tr>");
            foreach (var r in active)
            {
                var p = data.ProgressOf(r.Id);
                string phase = p is null ? "–" : p.WaitingReason ?? $"round {p.Round}: {p.Phase.ToText()} ({p.Received}/{p.Expected})";
                sb.Append("<tr><td><a href=\"/runs/").Append(Html.E(Uri.EscapeDataString(r.Id))).Append("\">").Append(Html.E(r.Id)).Append("</a></td><td>")
                  .Append(Html.Status(r.Status.ToText())).Append("</td><td class=\"rounds-done\">").Append(r.RoundsDone).Append(" / ").Append(r.RoundsPlanned)
                  .Append(Progress(r.RoundsDone, r.RoundsPlanned)).Append("</td><td>").Append(Html.E(phase)).Append("</td></tr>");
            }
            sb.Append("</table>");
        }

        // The latest rounds across the ten newest runs.
        var latest = new List<(RunRecord Run, RoundRecord Round)>();
        foreach (var r in runs.Take(10))
            foreach (var round in await data.Store.ListRoundsAsync(r.Id, ct)) latest.Add((r, round));
        sb.Append("<h2>Latest rounds</h2>");
        if (latest.Count == 0) sb.Append("<p class=\"muted\">no rounds yet</p>");
        else
        {
            sb.Append("<table id=\"latest-rounds\"><tr><th>finished</th><th>run</th><th>round</th><th>status</th><th>loss</th><th>accuracy</th><th>AUC</th><th>aggregation</th></tr>");
            foreach (var (run, round) in latest.OrderByDescending(x => x.Round.FinishedAt ?? x.Round.StartedAt).Take(12))
            {
                sb.Append("<tr><td>").Append(Html.Time(round.FinishedAt)).Append("</td><td><a href=\"/runs/").Append(Html.E(Uri.EscapeDataString(run.Id))).Append("\">")
                  .Append(Html.E(run.Id)).Append("</a></td><td>").Append(round.Round).Append('/').Append(run.RoundsPlanned).Append("</td><td>").Append(Html.Status(round.Status.ToText()))
                  .Append("</td><td>").Append(Html.Num(round.Loss)).Append("</td><td>").Append(Html.Num(RunView.Value(round.Metrics, "accuracy")))
                  .Append("</td><td>").Append(Html.Num(RunView.Value(round.Metrics, "auc"))).Append("</td><td>")
                  .Append(Html.Num(round.AggregationSeconds * 1000)).Append(" ms</td></tr>");
            }
            sb.Append("</table>");
        }

        var events = await data.Store.ListEventsAsync(null, ct);
        sb.Append("<h2>Recent events</h2><ul class=\"events\">");
        foreach (var e in events.TakeLast(12).Reverse())
            sb.Append("<li><time>").Append(Html.Time(e.At)).Append("</time> <code>").Append(Html.E(e.Kind)).Append("</code> ").Append(Html.E(e.Message)).Append("</li>");
        return sb.Append("</ul>").ToString();
    }

    /// <summary>A small progress bar.</summary>
    public static string Progress(int done, int planned) =>
        $"<span class=\"bar\"><span style=\"width:{(planned <= 0 ? 0 : Math.Min(100, 100 * done / planned))}%\"></span></span>";

    private static string Card(string id, string value, string label) =>
        $"<div class=\"card\" id=\"card-{id}\"><div class=\"value\">{Html.E(value)}</div><div class=\"label\">{Html.E(label)}</div></div>";
}
