using System.Reflection;
using Cohort.Audit;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Server.Audit;
using Cohort.Server.Dashboard.Pages;
using Cohort.Server.Runs;
using Cohort.Server.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Cohort.Server.Dashboard;

/// <summary>The dashboard's routes: login, pages (each also as a bare fragment for live refresh), events, downloads, actions.</summary>
internal static class DashboardEndpoints
{
    /// <summary>Maps every dashboard route.</summary>
    public static void MapDashboard(this IEndpointRouteBuilder app)
    {
        app.MapGet("/assets/{name}", (string name) => Asset(name));
        app.MapGet("/login", (HttpContext http, string? next) => HtmlResult(LoginPage.Render(null, next, LoginFormToken(http))));
        app.MapPost("/login", Login);
        app.MapPost("/logout", (HttpContext http, DashboardSessions sessions) =>
        {
            // The session is deleted from the store, not only from the browser: a copied cookie stops working too.
            if (http.Request.Cookies.TryGetValue(DashboardSessions.CookieName, out var id)) sessions.End(id);
            http.Response.Cookies.Delete(DashboardSessions.CookieName);
            return Results.Redirect("/login", false);
        });

        app.MapGet("/", async (HttpContext http, DashboardData data) =>
            PageResult(http, "Overview", await OverviewPage.RenderAsync(data, http.RequestAborted)));
        app.MapGet("/nodes", async (HttpContext http, DashboardData data) =>
            PageResult(http, "Nodes", await NodesPage.RenderAsync(data, http.RequestAborted)));
        app.MapGet("/runs", async (HttpContext http, DashboardData data, string? status, string? experiment, string? tag) =>
            PageResult(http, "Runs", await RunsPage.RenderAsync(data, status, experiment, tag, http.RequestAborted)));
        app.MapGet("/runs/{id}", async (HttpContext http, DashboardData data, string id) =>
            await data.LoadRunAsync(id, http.RequestAborted) is { } view
                ? PageResult(http, view.Run.Name, RunPage.Render(view, DashboardAccess.Identity(http)))
                : Results.NotFound($"no run '{id}'"));
        app.MapGet("/compare", async (HttpContext http, DashboardData data, string? metric) =>
            PageResult(http, "Compare", await ComparePage.RenderAsync(data, http.Request.Query["id"].Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).ToArray(), metric, http.RequestAborted)));
        app.MapGet("/events", (HttpContext http, LiveFeed feed, IHostApplicationLifetime life) => feed.StreamAsync(http, life.ApplicationStopping));
        app.MapGet("/runs/{id}/models/{round:int}", async (HttpContext http, DashboardData data, AuditLedger ledger, string id, int round) =>
        {
            if (!await DashboardAccess.DemandAsync(http, Permission.PullModel)) return Results.Empty;
            if (await data.ModelFileAsync(id, round, http.RequestAborted) is not { } path) return Results.NotFound($"run '{id}' has no model for round {round}");
            ledger.Append(new AuditEvent(AuditKinds.ModelDownloaded, AuditActors.Of(DashboardAccess.Identity(http)),
                $"global model of round {round} downloaded from the dashboard by {AuditActors.Address(http)}")
            { Run = id, Round = round });
            return Results.File(path, "application/octet-stream", $"{id}-round-{round:D4}.cps");
        });

        app.MapGet("/runs/new", NewRunForm);
        app.MapPost("/runs", StartRun).Allow(RequestBodyLimits.PlanFormBytes);
        app.MapPost("/runs/{id}/stop", async (HttpContext http, RunManager runs, IStateStore store, AuditLedger ledger, string id) =>
        {
            if (!await DashboardAccess.DemandAsync(http, Permission.StopRun)) return Results.Empty;
            var run = await runs.StopAsync(id, http.RequestAborted);
            if (run is null) return Results.NotFound($"no run '{id}'");
            ledger.Append(new AuditEvent(AuditKinds.RunStopped, AuditActors.Of(DashboardAccess.Identity(http)), $"stop requested from the dashboard; run is {run.Status.ToText()}") { Run = id });
            await store.AddEventAsync(id, "run.stop_requested", $"stop requested from the dashboard by '{DashboardAccess.Identity(http).Name}'", http.RequestAborted);
            return Results.Redirect("/runs/" + Uri.EscapeDataString(id), false);
        });
    }

    private static async Task<IResult> Login(HttpContext http, OperatorAuthenticator operators, DashboardSessions sessions, FailedAuthentications failures, PasswordChecks passwords, IStateStore store, AuditLedger ledger)
    {
        string caller = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        string key = FailedAuthentications.KeyOf(http);
        // Refused before the form is read, as the call gate refuses the Control API's Login: one budget for both.
        if (AuthenticationLimit.Over(http, key))
            return Results.Text($"too many failed logins from {key}; wait a minute\n", statusCode: StatusCodes.Status429TooManyRequests);
        if (!http.Request.HasFormContentType) return Results.BadRequest("log in with the form at /login\n");
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        string? next = form["next"];
        // Login CSRF: the form's token must match the cookie set when this browser loaded the form.
        if (!http.Request.Cookies.TryGetValue(AntiForgery.LoginCookie, out var bound) || !Tokens.Equal(bound, form[AntiForgery.FieldName].ToString()))
        {
            http.Response.StatusCode = StatusCodes.Status403Forbidden;
            return HtmlResult(LoginPage.Render("the login form expired; log in again", next, LoginFormToken(http)));
        }
        string user = form["user"].ToString().Trim();
        AccessIdentity? who;
        if (user.Length > 0)
        {
            // Counted before the password is checked (PasswordChecks); wrong passwords share the limit of wrong tokens.
            var check = await passwords.CheckAsync(key, () => operators.LogIn(user, form["password"].ToString()), http.RequestAborted);
            if (check.Refusal is not null)
            {
                // Over the limit (a concurrent login took the last count): the rest of the minute; too many at once: shortly.
                AuthenticationLimit.SetRetryAfter(http, check.Refusal == PasswordChecks.BusyMessage ? TimeSpan.FromSeconds(1) : failures.RetryAfter(key));
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                return HtmlResult(LoginPage.Render(check.Refusal, next, LoginFormToken(http)));
            }
            who = check.Who;
        }
        else
        {
            who = operators.FromToken(form["token"].ToString().Trim());
            if (who is null) failures.Count(key);
        }
        if (who is null)
        {
            ledger.Append(new AuditEvent(AuditKinds.LoginFailed, AuditActors.Address(http), user.Length > 0
                ? $"dashboard login from {caller} as {UserAccounts.Quoted(user)} refused: wrong user name or password"
                : $"dashboard login from {caller} failed: unknown token"));
            http.Response.StatusCode = StatusCodes.Status401Unauthorized;
            string error = user.Length > 0 ? $"wrong user name or password for {UserAccounts.Quoted(user)}" : "unknown token: use the admin token or an operator token";
            return HtmlResult(LoginPage.Render(error, next, LoginFormToken(http)));
        }
        await store.AddEventAsync(null, "user.login", $"'{who.Name}' logged in to the dashboard as {Permissions.NameOf(who.Role)} with {(user.Length > 0 ? "a password" : "a token")}", http.RequestAborted);
        ledger.Append(new AuditEvent(AuditKinds.LoginSucceeded, AuditActors.Of(who), $"dashboard login from {caller} as {Permissions.NameOf(who.Role)} '{who.Name}'"));
        http.Response.Cookies.Append(DashboardSessions.CookieName, sessions.Start(who), new CookieOptions
        {
            HttpOnly = true,
            Secure = http.Request.IsHttps,
            SameSite = SameSiteMode.Strict,
            Path = "/",
            MaxAge = DashboardSessions.Lifetime,
        });
        http.Response.Cookies.Delete(AntiForgery.LoginCookie);
        // Only local paths: an open redirect would let a link send a fresh login elsewhere.
        return Results.Redirect(LocalPath.OrRoot(next), false);
    }

    /// <summary>A fresh token for the login form, bound to this browser by a cookie.</summary>
    private static string LoginFormToken(HttpContext http)
    {
        string token = Tokens.New();
        http.Response.Cookies.Append(AntiForgery.LoginCookie, token, new CookieOptions
        {
            HttpOnly = true,
            Secure = http.Request.IsHttps,
            SameSite = SameSiteMode.Strict,
            Path = "/login",
            MaxAge = TimeSpan.FromHours(1),
        });
        return token;
    }

    private static async Task<IResult> NewRunForm(HttpContext http, PlanLibrary library, DashboardData data, string? from)
    {
        if (!await DashboardAccess.DemandAsync(http, Permission.SubmitRun)) return Results.Empty;
        var plans = await library.ListAsync(http.RequestAborted);
        string yaml = plans.FirstOrDefault(p => p.Key == from)?.Yaml ?? "";
        var nodes = await data.NodesAsync(http.RequestAborted);
        Plan? current = null;
        try
        {
            if (yaml.Length > 0) current = data.ParsePlan(yaml, from ?? "plan");
        }
        catch (PlanException)
        {
            // An example that no longer parses still loads; submitting it shows the error.
        }
        return PageResult(http, "Start a run", NewRunPage.Render(plans, from, yaml, nodes, new Dictionary<string, string>(), [], null, current), live: false);
    }

    private static async Task<IResult> StartRun(HttpContext http, RunManager runs, DashboardData data, PlanLibrary library, IStateStore store, AuditLedger ledger)
    {
        if (!await DashboardAccess.DemandAsync(http, Permission.SubmitRun)) return Results.Empty;
        var ct = http.RequestAborted;
        var form = await http.Request.ReadFormAsync(ct);
        string yaml = form["plan"].ToString();
        string source = "dashboard";
        if (form.Files.GetFile("plan_file") is { Length: > 0 } file)
        {
            using var reader = new StreamReader(file.OpenReadStream());
            yaml = await reader.ReadToEndAsync(ct);
            source = Path.GetFileName(file.FileName);
        }
        var values = NewRunPage.Overrides.ToDictionary(o => o.Field, o => form[o.Field].ToString());
        var nodes = form["nodes"].Where(n => !string.IsNullOrEmpty(n)).Select(n => n!).ToArray();
        try
        {
            if (string.IsNullOrWhiteSpace(yaml)) throw new PlanException(source, 0, 0, "no plan: pick one, paste one or upload a file");
            string final = NewRunPage.Apply(yaml, values, nodes, source);
            var run = await runs.SubmitAsync(final, source, ct, submitter: DashboardAccess.Identity(http).Name);
            ledger.Append(RunAudit.Submitted(run, AuditActors.Of(DashboardAccess.Identity(http)), $"the dashboard ({source})"));
            await store.AddEventAsync(run.Id, "run.dashboard", $"started from the dashboard by '{DashboardAccess.Identity(http).Name}'", ct);
            return Results.Redirect("/runs/" + Uri.EscapeDataString(run.Id), false);
        }
        catch (Exception e) when (e is PlanException or YamlDotNet.Core.YamlException or InvalidOperationException)
        {
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            var plans = await library.ListAsync(ct);
            return PageResult(http, "Start a run", NewRunPage.Render(plans, null, yaml, await data.NodesAsync(ct), values, nodes, e is PlanException plan ? plan.Report : e.Message), live: false);
        }
    }

    private static IResult PageResult(HttpContext http, string title, string main, bool live = true)
    {
        string html = http.Request.Query.ContainsKey("fragment") ? main : Html.Page(title, DashboardAccess.Identity(http), main, live);
        // Pages reached with a bearer token have no session; their forms are for browsers, which have one.
        return HtmlResult(AntiForgery.TokenOf(http) is { } token ? AntiForgery.Stamp(html, token) : html);
    }

    private static IResult HtmlResult(string html) => Results.Content(html, "text/html; charset=utf-8");

    private static IResult Asset(string name)
    {
        string? type = Path.GetExtension(name) switch { ".css" => "text/css; charset=utf-8", ".js" => "text/javascript; charset=utf-8", _ => null };
        var stream = type is null ? null : Assembly.GetExecutingAssembly().GetManifestResourceStream("Cohort.Dashboard." + name);
        return stream is null ? Results.NotFound() : Results.Stream(stream, type);
    }
}
