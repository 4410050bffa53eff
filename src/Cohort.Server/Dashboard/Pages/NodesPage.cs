using System.Text;

namespace Cohort.Server.Dashboard.Pages;

/// <summary>The nodes: status, last heartbeat, address, app and version, and the runs each took part in.</summary>
internal static class NodesPage
{
    /// <summary>Renders the page body.</summary>
    public static async Task<string> RenderAsync(DashboardData data, CancellationToken ct)
    {
        var nodes = await data.NodesAsync(ct);
        var runsByNode = await data.Store.ListRunsByNodeAsync(ct);
        var sb = new StringBuilder("<h1>Nodes</h1>");
        if (nodes.Count == 0) return sb.Append("<p class=\"muted\">no nodes yet: issue a token with <code>cohort token create NAME</code> and start <code>cohort node</code></p>").ToString();
        sb.Append("<table id=\"nodes\"><tr><th>name</th><th>status</th><th>last heartbeat</th><th>address</th><th>app</th><th>version</th><th>runs</th></tr>");
        foreach (var n in nodes)
        {
            var runs = runsByNode.GetValueOrDefault(n.Name) ?? [];
            sb.Append("<tr data-node=\"").Append(Html.E(n.Name)).Append("\"><td>").Append(Html.E(n.Name)).Append("</td><td>").Append(Html.Status(n.Status))
              .Append(n.BusyTask is null ? "" : $" <span class=\"muted\" title=\"{Html.E(n.BusyTask)}\">task</span>")
              .Append("</td><td>").Append(Html.Time(n.LastSeen)).Append("</td><td>").Append(Html.E(n.Address)).Append("</td><td>")
              .Append(Html.E(n.App)).Append("</td><td>").Append(Html.E(n.Version)).Append("</td><td>").Append(runs.Count);
            if (runs.Count > 0)
            {
                sb.Append(": ").AppendJoin(", ", runs.Take(5).Select(r => $"<a href=\"/runs/{Html.E(Uri.EscapeDataString(r))}\">{Html.E(r)}</a>"));
                if (runs.Count > 5) sb.Append(", …");
            }
            sb.Append("</td></tr>");
        }
        return sb.Append("</table>").ToString();
    }
}
