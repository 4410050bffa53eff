using System.Globalization;
using Cohort.Audit;
using Cohort.Server.Audit;
using Cohort.Server.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Dashboard;

/// <summary>
/// The failed-authentication limit on the dashboard, one per-address budget with the Control API's
/// (<see cref="FailedAuthentications"/>): a credential that fails (a bearer token, a session cookie, a login) counts, and
/// an address over the limit is answered 429 with Retry-After. Refusals are logged (throttled, the call gate's kinds)
/// and audited as the call gate does, so a guesser switching between the two surfaces gains neither attempts nor log lines.
/// </summary>
internal static class AuthenticationLimit
{
    /// <summary>
    /// True when <paramref name="caller"/> is over the limit: Retry-After is set and the refusal logged, and the caller
    /// answers 429 (<see cref="RefuseAsync"/>, or its own page for a login).
    /// </summary>
    public static bool Over(HttpContext http, string caller)
    {
        var failures = http.RequestServices.GetRequiredService<FailedAuthentications>();
        if (!failures.IsOver(caller)) return false;
        Warn(http, "limited", $"refusing dashboard requests from {caller}: {failures.PerMinute} failed authentications in a minute");
        SetRetryAfter(http, failures.RetryAfter(caller));
        return true;
    }

    /// <summary>Answers 429 with the call gate's words; for a caller <see cref="Over"/> found over the limit.</summary>
    public static async Task RefuseAsync(HttpContext http, string caller)
    {
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.ContentType = "text/plain; charset=utf-8";
        await http.Response.WriteAsync($"too many failed authentications from {caller}; wait a minute\n");
    }

    /// <summary>Counts a credential of <paramref name="caller"/> that failed, and logs (throttled) and audits it with <paramref name="why"/>.</summary>
    public static void Failed(HttpContext http, string caller, string why)
    {
        var services = http.RequestServices;
        services.GetRequiredService<FailedAuthentications>().Count(caller);
        string path = http.Request.Path.Value ?? "";
        Warn(http, "unauthenticated", $"refused an unauthenticated dashboard request to {path} from {caller}");
        // Bounded by the limit: an address gets a few dozen entries a minute at most (requests without a credential, which
        // are not counted, are not audited either).
        services.GetRequiredService<AuditLedger>().Append(new AuditEvent(AuditKinds.ControlRefused, AuditActors.Address(http), $"dashboard request to {path} refused: {why}"));
    }

    /// <summary>Sets Retry-After to <paramref name="wait"/> in whole seconds, rounded up, at least one.</summary>
    public static void SetRetryAfter(HttpContext http, TimeSpan wait) =>
        http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private static void Warn(HttpContext http, string kind, string line)
    {
        var services = http.RequestServices;
        var log = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DashboardAccess).FullName!);
        services.GetRequiredService<LogThrottle>().Warn(log, kind, line);
    }
}
