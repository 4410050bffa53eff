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
        var who = Authenticate(http);
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

    private static AccessIdentity? Authenticate(HttpContext http)
    {
        var operators = (OperatorAuthenticator)http.RequestServices.GetService(typeof(OperatorAuthenticator))!;
        if (Tokens.FromHeader(http.Request.Headers.Authorization) is { } token) return operators.Authenticate(token);
        if (http.Request.Cookies.TryGetValue(DashboardSessions.CookieName, out var session) && !string.IsNullOrEmpty(session))
            return operators.Resume(session);
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
