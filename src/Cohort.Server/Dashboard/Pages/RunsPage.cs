using System.Text;
using Cohort.Engine.State;

namespace Cohort.Server.Dashboard.Pages;

/// <summary>The runs list, filtered by status, experiment and tag, with boxes to pick runs to compare.</summary>
internal static class RunsPage
{
    /// <summary>Statuses offered by the filter.</summary>
    public static readonly string[] Statuses = [.. Enum.GetValues<RunStatus>().Select(s => s.ToText())];

    /// <summary>Renders the page body.</summary>
    public static async Task<string> RenderAsync(DashboardData data, string? status, string? experiment, string? tag, CancellationToken ct)
    {
        var all = await data.Store.ListRunsAsync(null, ct);
        var experiments = all.Select(r => r.Experiment).Distinct().Order(StringComparer.Ordinal).ToArray();
        var tags = all.SelectMany(r => data.PlanOf(r).Plan?.Tags ?? []).Distinct().Order(StringComparer.Ordinal).ToArray();
        var runs = all.Where(r => string.IsNullOrEmpty(status) || r.Status.ToText() == status)
            .Where(r => string.IsNullOrEmpty(experiment) || r.Experiment == experiment)
            .Where(r => string.IsNullOrEmpty(tag) || (data.PlanOf(r).Plan?.Tags.Contains(tag) ?? false))
            .Take(500).ToArray();

        var sb = new StringBuilder("<h1>Runs</h1><form class=\"filters\" method=\"get\" action=\"/runs\">");
        sb.Append(Select("status", "any status", Statuses, status))
          .Append(Select("experiment", "any experiment", experiments, experiment))
          .Append(Select("tag", "any tag", tags, tag))
          .Append("<button>filter</button></form>");
        if (runs.Length == 0) return sb.Append("<p class=\"muted\">no runs match</p>").ToString();

        sb.Append("<form method=\"get\" action=\"/compare\"><table id=\"runs\"><tr><th></th><th>run</th><th>experiment</th><th>status</th><th>strategy</th>")
          .Append("<th>rounds</th><th>started</th><th>duration</th><th>best global metric</th></tr>");
        foreach (var r in runs)
        {
            var rounds = await data.Store.ListRoundsAsync(r.Id, ct);
            var best = RunView.Best(rounds);
            var elapsed = RunView.Elapsed(r);
            string link = "/runs/" + Html.E(Uri.EscapeDataString(r.Id));
            sb.Append("<tr data-run=\"").Append(Html.E(r.Id)).Append("\" data-status=\"").Append(Html.E(r.Status.ToText())).Append("\">")
              .Append("<td><input type=\"checkbox\" name=\"id\" value=\"").Append(Html.E(r.Id)).Append("\" aria-label=\"compare\"></td>")
              .Append("<td><a href=\"").Append(link).Append("\">").Append(Html.E(r.Id)).Append("</a><div class=\"muted\">").Append(Html.E(r.Name)).Append("</div></td>")
              .Append("<td><a href=\"/runs?experiment=").Append(Html.E(Uri.EscapeDataString(r.Experiment))).Append("\">").Append(Html.E(r.Experiment)).Append("</a></td>")
              .Append("<td>").Append(Html.Status(r.Status.ToText())).Append(r.Error is null ? "" : $"<div class=\"error small\">{Html.E(r.Error)}</div>").Append("</td>")
              .Append("<td>").Append(Html.E(r.Strategy)).Append("</td><td>").Append(r.RoundsDone).Append(" / ").Append(r.RoundsPlanned).Append("</td>")
              .Append("<td>").Append(Html.Time(r.StartedAt)).Append("</td><td>").Append(elapsed is { } e ? Html.Duration(e) : "–").Append("</td>")
              .Append("<td>").Append(best is { } b ? $"{Html.E(b.Name)} {Html.Num(b.Value)} <span class=\"muted\">(round {b.Round})</span>" : "–").Append("</td></tr>");
        }
        return sb.Append("</table><button>compare selected</button></form>").ToString();
    }

    /// <summary>A select element with an "any" option.</summary>
    public static string Select(string name, string any, IEnumerable<string> values, string? selected)
    {
        var sb = new StringBuilder($"<label>{Html.E(name)} <select name=\"{Html.E(name)}\"><option value=\"\">{Html.E(any)}</option>");
        foreach (var v in values)
            sb.Append("<option").Append(v == selected ? " selected" : "").Append(" value=\"").Append(Html.E(v)).Append("\">").Append(Html.E(v)).Append("</option>");
        return sb.Append("</select></label>").ToString();
    }
}
