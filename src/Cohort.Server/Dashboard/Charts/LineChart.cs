using System.Globalization;
using System.Text;

namespace Cohort.Server.Dashboard.Charts;

/// <summary>
/// Draws per-round curves as inline SVG on the server, so charts need no script library. Every point
/// carries its series, round and exact value as data attributes and a tooltip.
/// </summary>
internal static class LineChart
{
    private const int Width = 560, Height = 260, Left = 56, Right = 12, Top = 14, Bottom = 34;

    /// <summary>Above this many points a curve is drawn without point markers (their tooltips dominate the page size).</summary>
    public const int MaxMarkers = 100;

    /// <summary>Colours for nodes and runs, assigned in name order.</summary>
    public static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

    /// <summary>A figure with a title, the SVG and a legend whose node and run entries toggle their curves.</summary>
    public static string Render(string id, string title, IReadOnlyList<ChartSeries> series, string xLabel = "round")
    {
        var points = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.Y)).ToArray();
        var sb = new StringBuilder();
        sb.Append("<figure class=\"chart\" id=\"").Append(Html.E(id)).Append("\" data-chart=\"").Append(Html.E(title)).Append("\">")
          .Append("<figcaption>").Append(Html.E(title)).Append("</figcaption>");
        if (points.Length == 0)
        {
            return sb.Append("<p class=\"muted\">no values yet</p></figure>").ToString();
        }
        double xMin = points.Min(p => p.X), xMax = points.Max(p => p.X);
        double yMin = points.Min(p => p.Y), yMax = points.Max(p => p.Y);
        if (xMax == xMin) { xMin -= 1; xMax += 1; }
        if (yMax - yMin < 1e-12) { double pad = Math.Max(Math.Abs(yMax) * 0.1, 0.05); yMin -= pad; yMax += pad; }
        else { double pad = (yMax - yMin) * 0.06; yMin -= pad; yMax += pad; }
        double Sx(double x) => Left + (x - xMin) / (xMax - xMin) * (Width - Left - Right);
        double Sy(double y) => Top + (1 - (y - yMin) / (yMax - yMin)) * (Height - Top - Bottom);

        sb.Append(CultureInfo.InvariantCulture, $"<svg viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"{Html.E(title)}\">");
        // Axes and grid: five value ticks, at most ten round ticks.
        for (int i = 0; i <= 4; i++)
        {
            double v = yMin + (yMax - yMin) * i / 4;
            double y = Sy(v);
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\"/>")
              .Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{Html.E(Html.Num(v))}</text>");
        }
        int step = Math.Max(1, (int)Math.Ceiling((xMax - xMin) / 10));
        for (double x = Math.Ceiling(xMin); x <= xMax; x += step)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{Sx(x):0.#}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{x:0}</text>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 4}\" text-anchor=\"middle\">{Html.E(xLabel)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<line class=\"axis-line\" x1=\"{Left}\" x2=\"{Left}\" y1=\"{Top}\" y2=\"{Height - Bottom}\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<line class=\"axis-line\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Height - Bottom}\" y2=\"{Height - Bottom}\"/>");

        var colors = ColorsOf(series);
        // Nodes first, so the global curves are drawn on top.
        foreach (var s in series.OrderBy(s => s.Kind == SeriesKind.Node ? 0 : 1))
        {
            var finite = s.Points.Where(p => double.IsFinite(p.Y)).ToArray();
            if (finite.Length == 0) continue;
            string cls = s.Kind.ToString().ToLowerInvariant();
            string color = colors[s.Name];
            sb.Append("<g class=\"series ").Append(cls).Append("\" data-series=\"").Append(Html.E(s.Name)).Append("\" data-kind=\"").Append(cls)
              .Append("\" stroke=\"").Append(color).Append("\" fill=\"").Append(color).Append("\">");
            sb.Append("<polyline fill=\"none\" points=\"");
            foreach (var (x, y) in finite) sb.Append(CultureInfo.InvariantCulture, $"{Sx(x):0.##},{Sy(y):0.##} ");
            sb.Append("\"/>");
            foreach (var (x, y) in finite.Length <= MaxMarkers ? finite : [])
            {
                sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{Sx(x):0.##}\" cy=\"{Sy(y):0.##}\" r=\"{(s.Kind == SeriesKind.Node ? 2.2 : 3)}\" data-round=\"{x:0}\" data-value=\"{Html.Raw(y)}\">")
                  .Append("<title>").Append(Html.E(s.Name)).Append(CultureInfo.InvariantCulture, $", round {x:0}: ").Append(Html.E(Html.Num(y))).Append("</title></circle>");
            }
            sb.Append("</g>");
        }
        sb.Append("</svg><div class=\"legend\">");
        foreach (var s in series)
        {
            string cls = s.Kind.ToString().ToLowerInvariant();
            string swatch = $"<i class=\"swatch {cls}\" style=\"border-color:{colors[s.Name]}\"></i>";
            if (s.Kind is SeriesKind.Node or SeriesKind.Run)
                sb.Append("<label><input type=\"checkbox\" checked data-toggle=\"").Append(Html.E(s.Name)).Append("\"> ").Append(swatch).Append(Html.E(s.Name)).Append("</label>");
            else
                sb.Append("<span>").Append(swatch).Append(Html.E(s.Name)).Append("</span>");
        }
        return sb.Append("</div></figure>").ToString();
    }

    private static Dictionary<string, string> ColorsOf(IReadOnlyList<ChartSeries> series)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var s in series.Where(s => s.Kind is SeriesKind.Node or SeriesKind.Run).Select(s => s.Name).Distinct().Order(StringComparer.Ordinal))
            map[s] = Palette[i++ % Palette.Length];
        foreach (var s in series.Where(s => s.Kind is SeriesKind.Federated or SeriesKind.Central)) map[s.Name] = "#111";
        return map;
    }
}
