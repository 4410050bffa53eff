using System.Text.RegularExpressions;
using Cohort.Server.Security;
using Microsoft.AspNetCore.Http;

namespace Cohort.Server.Dashboard;

/// <summary>
/// Anti-forgery tokens for the dashboard's forms: every POST form carries a hidden field bound to the
/// session (or, on the login form, to a short-lived cookie), and a browser POST without the matching
/// value is refused, whatever its Origin header says.
/// </summary>
internal static partial class AntiForgery
{
    /// <summary>Name of the hidden form field (and of the header scripts may send instead).</summary>
    public const string FieldName = "csrf";

    /// <summary>Header carrying the token for requests that are not forms.</summary>
    public const string HeaderName = "X-Cohort-Csrf";

    /// <summary>Cookie that binds the login form's token before there is a session.</summary>
    public const string LoginCookie = "cohort_login";

    /// <summary>Adds the hidden token field to every POST form in <paramref name="html"/>.</summary>
    public static string Stamp(string html, string token) =>
        PostForm().Replace(html, m => m.Value + $"<input type=\"hidden\" name=\"{FieldName}\" value=\"{Html.E(token)}\">");

    /// <summary>The token of this request's session, or null when it has none.</summary>
    public static string? TokenOf(HttpContext http) =>
        http.Request.Cookies.TryGetValue(DashboardSessions.CookieName, out var session) && !string.IsNullOrEmpty(session)
            ? ((DashboardSessions)http.RequestServices.GetService(typeof(DashboardSessions))!).AntiForgeryToken(session)
            : null;

    /// <summary>True when the request carries <paramref name="expected"/> as form field or header.</summary>
    public static async Task<bool> CarriesAsync(HttpContext http, string expected)
    {
        string? presented = http.Request.Headers[HeaderName].ToString();
        if (string.IsNullOrEmpty(presented) && http.Request.HasFormContentType)
            presented = (await http.Request.ReadFormAsync(http.RequestAborted))[FieldName].ToString();
        return Tokens.Equal(presented, expected);
    }

    [GeneratedRegex("<form\\b[^>]*\\bmethod=\"post\"[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex PostForm();
}
