using System.Globalization;
using System.Text;
using Cohort.Clients;
using Cohort.Engine.State;

namespace Cohort.Server.Dashboard.Charts;

/// <summary>
/// The run's system timeline as inline SVG: one lane per node with a bar per task (compute time, ending
/// when its result arrived; the waiting before it lighter), and a server lane with the aggregation time.
/// </summary>
internal static class Timeline
{
    private const int Width = 1100, Lane = 22, Left = 110, Right = 10, Top = 8, Axis = 26;

    /// <summary>Renders the timeline of <paramref name="v"/>.</summary>
    public static string Render(RunView v)
    {
        if (v.Rounds.Count == 0 || v.Results.Count == 0) return "<p class=\"muted\">no timings yet</p>";
        var nodes = v.Results.Select(x => x.Node).Distinct().Order(StringComparer.Ordinal).ToArray();
        var t0 = v.Rounds.Min(r => r.StartedAt);
        var tEnd = v.Results.Select(x => x.At).Concat(v.Rounds.Select(r => r.FinishedAt ?? r.StartedAt)).Max();
        double span = Math.Max(0.001, (tEnd - t0).TotalSeconds);
        int height = Top + (nodes.Length + 1) * Lane + Axis;
        double X(double seconds) => Left + Math.Clamp(seconds / span, 0, 1) * (Width - Left - Right);
        double S(DateTimeOffset t) => (t - t0).TotalSeconds;

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<figure class=\"timeline\" id=\"timeline\"><svg viewBox=\"0 0 {Width} {height}\" role=\"img\" aria-label=\"system timeline\">");
        for (int i = 0; i <= nodes.Length; i++)
        {
            string name = i == 0 ? "server" : nodes[i - 1];
            double y = Top + i * Lane;
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{Left - 6}\" y=\"{y + 15}\" text-anchor=\"end\">{Html.E(name)}</text>")
              .Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{y + Lane}\" y2=\"{y + Lane}\"/>");
        }
        var byRound = v.Results.ToLookup(r => r.Round);
        var rounds = v.Rounds.ToDictionary(r => r.Round);
        var lanes = nodes.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i + 1, StringComparer.Ordinal);
        foreach (var round in v.Rounds)
        {
            double x = X(S(round.StartedAt));
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"round-mark\" x1=\"{x:0.#}\" x2=\"{x:0.#}\" y1=\"{Top}\" y2=\"{height - Axis}\"/>")
              .Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{x + 3:0.#}\" y=\"{height - Axis + 14}\">r{round.Round}</text>");
            var fits = byRound[round.Round].Where(r => r.Kind == TaskKind.Fit).ToArray();
            if (round.Status == RoundStatus.Done && fits.Length > 0)
            {
                // Aggregation folds results in as they arrive; the bar is drawn after the last fit result for readability.
                double a = S(fits.Max(f => f.At));
                Bar(sb, X(a), X(a + round.AggregationSeconds), Top, "aggregate", $"round {round.Round}: aggregation {round.AggregationSeconds * 1000:0.##} ms");
            }
        }
        foreach (var x in v.Results)
        {
            double y = Top + lanes[x.Node] * Lane;
            var round = rounds.GetValueOrDefault(x.Round);
            double end = S(x.At), start = Math.Max(0, end - x.DurationSeconds);
            if (round is not null && x.Kind == TaskKind.Fit)
                Bar(sb, X(S(round.StartedAt)), X(start), y, "wait", $"{x.Node} round {x.Round}: waiting {start - S(round.StartedAt):0.###} s");
            Bar(sb, X(start), X(end), y, x.Ok ? x.Phase : "failed",
                $"{x.Node} round {x.Round} {x.Phase}: {x.DurationSeconds:0.###} s, upload {Html.Bytes(x.UploadBytes)}{(x.Ok ? "" : ", failed: " + x.Error)}");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{Width - Right}\" y=\"{height - 4}\" text-anchor=\"end\">seconds since the first round: 0 … {span:0.##}</text>");
        return sb.Append("</svg><div class=\"legend\"><span><i class=\"box fit\"></i>fit</span><span><i class=\"box evaluate\"></i>evaluate</span><span><i class=\"box wait\"></i>waiting</span><span><i class=\"box aggregate\"></i>aggregation</span><span><i class=\"box failed\"></i>failed</span></div></figure>").ToString();
    }

    private static void Bar(StringBuilder sb, double x1, double x2, double y, string cls, string title) =>
        sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"{cls}\" x=\"{x1:0.##}\" y=\"{y + 4}\" width=\"{Math.Max(1.5, x2 - x1):0.##}\" height=\"{Lane - 8}\"><title>{Html.E(title)}</title></rect>");
}
