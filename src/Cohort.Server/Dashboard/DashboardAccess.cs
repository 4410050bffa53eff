using Cohort.Server.Security;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Http;

namespace Cohort.Server.Dashboard;

/// <summary>
/// Guards every HTTP request that is not a gRPC call: without a valid session cookie or operator bearer
/// token only the login page, the stylesheet and the health endpoints answer. gRPC calls pass through
/// to their own checks (admin token for the Control API, node tokens for the Fleet API).
/// </summary>
internal static class DashboardAccess
{
    private const string ItemKey = "cohort.identity";
    private const string StaleCookie = "unknown or expired session cookie";

    private static readonly string[] PublicPaths = ["/login", "/healthz", "/readyz", "/assets/dashboard.css"];

    /// <summary>The identity the middleware found for this request (never null behind the middleware).</summary>
    public static AccessIdentity Identity(HttpContext http) => (AccessIdentity)http.Items[ItemKey]!;

    /// <summary>The middleware.</summary>
    public static async Task Guard(HttpContext http, Func<Task> next)
    {
        var request = http.Request;
        // Decided by the endpoint routing chose, not by headers a caller controls: a gRPC content type
        // on a dashboard path must not skip the check.
        if (http.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is not null || PublicPaths.Contains(request.Path.Value ?? ""))
        {
            await next();
            return;
        }
        var who = Authenticate(http, out string? failed);
        if (who is null && failed is not null)
        {
            // As on the Control API: a credential that fails counts towards its address's limit, and once the address is
            // over it such requests get 429, while valid credentials from it still go through (an address shared with the
            // operators, a NAT or a proxy, must not lock them out). No credential at all, a browser on its way to the
            // login page, is not a failure.
            string caller = FailedAuthentications.KeyOf(http);
            if (AuthenticationLimit.Over(http, caller))
            {
                await AuthenticationLimit.RefuseAsync(http, caller);
                return;
            }
            AuthenticationLimit.Failed(http, caller, failed);
            // A stale cookie (a session ended or expired) is cleared, so a tab still open counts once, not at every refresh.
            if (failed == StaleCookie) http.Response.Cookies.Delete(DashboardSessions.CookieName);
        }
        if (who is null)
        {
            bool wantsPage = HttpMethods.IsGet(request.Method) && request.Headers.Accept.ToString().Contains("text/html", StringComparison.Ordinal);
            if (wantsPage)
            {
                http.Response.Redirect("/login?next=" + Uri.EscapeDataString(request.Path + request.QueryString));
                return;
            }
            http.Response.StatusCode = StatusCodes.Status401Unauthorized;
            http.Response.Headers.WWWAuthenticate = "Bearer";
            await http.Response.WriteAsync("log in at /login, or send an operator token (authorization: Bearer <token>)\n");
            return;
        }
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !SameOrigin(http))
        {
            // SameSite=Strict already keeps the cookie off cross-site posts; this refuses them outright too.
            http.Response.StatusCode = StatusCodes.Status403Forbidden;
            await http.Response.WriteAsync("cross-origin request refused\n");
            return;
        }
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && request.Headers.Authorization.Count == 0)
        {
            // A cookie is sent by the browser on its own; only a form this server rendered knows the session's token.
            string? expected = AntiForgery.TokenOf(http);
            if (expected is null || !await AntiForgery.CarriesAsync(http, expected))
            {
                http.Response.StatusCode = StatusCodes.Status403Forbidden;
                await http.Response.WriteAsync("anti-forgery token missing or wrong; reload the page and try again\n");
                return;
            }
        }
        http.Items[ItemKey] = who;
        await next();
    }

    /// <summary>
    /// Writes 403 naming the missing permission (the same words as the Control API's refusal) unless the caller's
    /// role has <paramref name="permission"/>; returns true when the request may go on.
    /// </summary>
    public static async Task<bool> DemandAsync(HttpContext http, Permission permission)
    {
        var who = Identity(http);
        if (who.Can(permission)) return true;
        string refusal = "forbidden: " + Permissions.Refusal(who, permission);
        http.Response.StatusCode = StatusCodes.Status403Forbidden;
        if (http.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.Ordinal))
        {
            http.Response.ContentType = "text/html; charset=utf-8";
            string main = $"<h1>Forbidden</h1><p class=\"error\" id=\"forbidden\">{Html.E(refusal)}</p>" +
                $"<p>An admin can change your role (<code>cohort users set-role</code>) or give you an operator token.</p>";
            await http.Response.WriteAsync(Html.Page("Forbidden", who, main, live: false));
        }
        else
        {
            http.Response.ContentType = "text/plain; charset=utf-8";
            await http.Response.WriteAsync(refusal + "\n");
        }
        return false;
    }

    /// <summary>
    /// The identity of the request's bearer token, else of its session cookie; null with <paramref name="failed"/> saying
    /// which credential failed, or null for both when the request carries none.
    /// </summary>
    private static AccessIdentity? Authenticate(HttpContext http, out string? failed)
    {
        var operators = (OperatorAuthenticator)http.RequestServices.GetService(typeof(OperatorAuthenticator))!;
        failed = null;
        AccessIdentity? who;
        if (Tokens.FromHeader(http.Request.Headers.Authorization) is { } token)
        {
            who = operators.Authenticate(token);
            if (who is null) failed = "unknown operator token or expired session";
            return who;
        }
        if (http.Request.Cookies.TryGetValue(DashboardSessions.CookieName, out var session) && !string.IsNullOrEmpty(session))
        {
            who = operators.Resume(session);
            if (who is null) failed = StaleCookie;
            return who;
        }
        // An authorization header that is not a bearer token is a credential too (a guess in another scheme), and fails.
        if (!string.IsNullOrWhiteSpace(http.Request.Headers.Authorization.ToString())) failed = "authorization header without a bearer token";
        return null;
    }

    private static bool SameOrigin(HttpContext http)
    {
        // Requests with a bearer token are not sent by browsers on their own; they cannot be forged cross-site.
        if (http.Request.Headers.Authorization.Count > 0) return true;
        string origin = http.Request.Headers.Origin.ToString();
        if (origin.Length == 0) return true;
        return string.Equals(origin, $"{http.Request.Scheme}://{http.Request.Host}", StringComparison.OrdinalIgnoreCase);
    }
}
