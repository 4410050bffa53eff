using System.Globalization;
using System.Net;
using System.Text;
using Cohort.Server.Hosting;
using Cohort.Server.Security;

namespace Cohort.Server.Dashboard;

/// <summary>Small helpers for the server-rendered pages: escaping, number and time formats, the page frame.</summary>
internal static class Html
{
    /// <summary>HTML-escapes text (also for attribute values).</summary>
    public static string E(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>A number with up to four significant decimals, or "–" when missing.</summary>
    public static string Num(double? v) => v is { } x && double.IsFinite(x) ? x.ToString(Math.Abs(x) >= 100 ? "0.#" : "0.####", CultureInfo.InvariantCulture) : "–";

    /// <summary>A number in invariant culture, full precision (for data attributes tests and scripts read).</summary>
    public static string Raw(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A timestamp as UTC "yyyy-MM-dd HH:mm:ss", or "–".</summary>
    public static string Time(DateTimeOffset? t) => t is { } x ? x.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "–";

    /// <summary>A duration as "1h 02m", "3m 05s" or "4.2s".</summary>
    public static string Duration(TimeSpan d) => d.TotalSeconds < 60
        ? d.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s"
        : d.TotalHours < 1 ? $"{(int)d.TotalMinutes}m {d.Seconds:00}s" : $"{(int)d.TotalHours}h {d.Minutes:00}m";

    /// <summary>Bytes as B, KiB, MiB or GiB.</summary>
    public static string Bytes(long b) => b switch
    {
        < 1024 => $"{b} B",
        < 1 << 20 => (b / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        < 1 << 30 => (b / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        _ => (b / 1073741824.0).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
    };

    /// <summary>A coloured status label.</summary>
    public static string Status(string status) => $"<span class=\"status s-{E(status.Replace(' ', '-'))}\">{E(status)}</span>";

    /// <summary>The full page: header with navigation, the live-updating main element, our script.</summary>
    /// <param name="title">Page title.</param>
    /// <param name="who">Logged-in operator.</param>
    /// <param name="main">Inner HTML of the main element.</param>
    /// <param name="live">False for pages with forms, which must not be replaced while the user types.</param>
    public static string Page(string title, AccessIdentity who, string main, bool live = true)
    {
        var sb = new StringBuilder(main.Length + 2048);
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
          .Append("<title>").Append(E(title)).Append(" · Cohort</title>")
          .Append("<link rel=\"stylesheet\" href=\"/assets/dashboard.css\"></head><body>")
          .Append("<header><a class=\"brand\" href=\"/\">Cohort</a><nav>")
          .Append("<a href=\"/\">Overview</a><a href=\"/nodes\">Nodes</a><a href=\"/runs\">Runs</a><a href=\"/compare\">Compare</a>");
        if (who.Can(Permission.SubmitRun)) sb.Append("<a href=\"/runs/new\">Start a run</a>");
        sb.Append("</nav><span class=\"who\">").Append(E(who.Name)).Append(who.Name == "admin" && who.IsAdmin ? "" : " · " + Permissions.NameOf(who.Role))
          .Append(" <span id=\"live-dot\" title=\"live updates\"></span>")
          .Append("<form method=\"post\" action=\"/logout\"><button class=\"link\">log out</button></form></span></header>")
          .Append("<main id=\"main\"").Append(live ? " data-live=\"on\"" : "").Append('>').Append(main).Append("</main>")
          .Append("<footer>Cohort ").Append(E(ServerInfo.Version)).Append("</footer>")
          .Append("<script src=\"/assets/dashboard.js\"></script></body></html>");
        return sb.ToString();
    }
}
