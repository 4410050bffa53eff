using System.Text;
using Cohort.Engine.State;

namespace Cohort.Server.Dashboard.Pages;

/// <summary>The nodes: status, last heartbeat, address, app, version, declared data sets with their schema hashes, and the runs each took part in.</summary>
internal static class NodesPage
{
    /// <summary>Renders the page body.</summary>
    public static async Task<string> RenderAsync(DashboardData data, CancellationToken ct)
    {
        var nodes = await data.NodesAsync(ct);
        var runsByNode = await data.Store.ListRunsByNodeAsync(ct);
        var sb = new StringBuilder("<h1>Nodes</h1>");
        if (nodes.Count == 0) return sb.Append("<p class=\"muted\">no nodes yet: issue a token with <code>cohort token create NAME</code> and start <code>cohort node</code></p>").ToString();
        sb.Append("<table id=\"nodes\"><tr><th>name</th><th>status</th><th>last heartbeat</th><th>address</th><th>app</th><th>version</th><th>data sets</th><th>runs</th></tr>");
        foreach (var n in nodes)
        {
            var runs = runsByNode.GetValueOrDefault(n.Name) ?? [];
            sb.Append("<tr data-node=\"").Append(Html.E(n.Name)).Append("\"><td>").Append(Html.E(n.Name)).Append("</td><td>").Append(Html.Status(n.Status.ToShownText()))
              .Append(n.BusyTask is null ? "" : $" <span class=\"muted\" title=\"{Html.E(n.BusyTask)}\">task</span>")
              .Append("</td><td>").Append(Html.Time(n.LastSeen)).Append("</td><td>").Append(Html.E(n.Address)).Append("</td><td>")
              .Append(Html.E(n.App)).Append("</td><td>").Append(Html.E(n.Version)).Append("</td><td class=\"datasets\">");
            if (n.Datasets.Count == 0) sb.Append("<span class=\"muted\">–</span>");
            // The full hash is in the title; the short form is enough to see which nodes' data share a shape.
            sb.AppendJoin(", ", n.Datasets.Select(d =>
                $"<span data-dataset=\"{Html.E(d.Name)}\">{Html.E(d.Name)} <code title=\"{Html.E(d.SchemaHash)}\">{Html.E(Apps.DatasetSchema.Short(d.SchemaHash))}</code>{(d.Columns > 0 ? $" <span class=\"muted\">{d.Columns} columns</span>" : "")}</span>"));
            sb.Append("</td><td>").Append(runs.Count);
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
