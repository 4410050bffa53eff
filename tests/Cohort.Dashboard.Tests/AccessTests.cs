using System.Net;
using Cohort.Cli;
using Cohort.Cli.Control;
using Cohort.Dashboard.Tests.Infrastructure;
using Cohort.Engine.State;
using Cohort.Server.Security;
using Cohort.Transport.Channels;
using Microsoft.Extensions.DependencyInjection;

namespace Cohort.Dashboard.Tests;

/// <summary>Login and roles: nothing but the login page and health answers without credentials; a viewer cannot act.</summary>
[Collection(DashboardCollection.Name)]
public sealed class AccessTests(Federation federation, Browser browser)
{
    private HttpClient Client(string? token = null)
    {
        var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator })
        {
            BaseAddress = federation.Host.DashboardAddress,
        };
        if (token is not null) http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return http;
    }

    [Fact]
    public async Task Without_credentials_only_the_login_page_and_health_endpoints_answer()
    {
        using var http = Client();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/login")).StatusCode);
        foreach (var path in new[] { "/", "/runs", "/nodes", "/metrics", "/events", $"/runs/{federation.HeartRun}", $"/runs/{federation.HeartRun}/models/1", "/assets/dashboard.js" })
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(path)).StatusCode);
        var post = await http.PostAsync($"/runs/{federation.SlowRun}/stop", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
        // A gRPC content type does not make a dashboard path skip the check.
        foreach (var path in new[] { "/metrics", $"/runs/{federation.HeartRun}/models/1" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path) { Content = new ByteArrayContent([]) };
            request.Content.Headers.ContentType = new("application/grpc");
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(request)).StatusCode);
        }
        using var forged = Client("not-a-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/runs")).StatusCode);

        // A browser is sent to the login page, and a wrong token is refused there.
        var page = await browser.NewPageAsync();
        await page.GotoAsync(DashboardUrl.Of(federation, $"/runs/{federation.HeartRun}"));
        Assert.Contains("/login?next=", page.Url, StringComparison.Ordinal);
        await page.FillAsync("input[name=token]", "wrong");
        await page.ClickAsync("#login button");
        Assert.Contains("unknown token", await page.TextContentAsync("#login-error"), StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_viewer_token_issued_through_the_control_api_reads_pages_and_metrics_but_cannot_stop_runs()
    {
        using var control = new ControlClient(new ConnectionOptions(federation.Host.Address.ToString(), federation.Host.AdminToken, federation.Host.CaFile));
        string token = await control.CreateViewerTokenAsync("grafana", CancellationToken.None);
        await Assert.ThrowsAsync<CliException>(() => control.CreateViewerTokenAsync("no spaces allowed", CancellationToken.None));

        using var http = Client(token);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/runs")).StatusCode);
        Assert.Contains("cohort_nodes_online", await http.GetStringAsync("/metrics"), StringComparison.Ordinal);
        var stop = await http.PostAsync($"/runs/{federation.SlowRun}/stop", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Forbidden, stop.StatusCode);
        Assert.Contains("viewer", await stop.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(RunStatus.Running, (await federation.Store.GetRunAsync(federation.SlowRun, CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task Deleting_a_viewers_line_from_the_token_file_revokes_the_token_at_the_next_request()
    {
        var viewers = federation.Host.Services.GetRequiredService<ViewerTokens>();
        string token = viewers.Issue("temp");
        using var http = Client(token);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/nodes")).StatusCode);

        string file = ViewerTokens.FileIn(federation.Host.DataDir);
        var lines = await File.ReadAllLinesAsync(file);
        Assert.DoesNotContain(lines, l => l.Contains(token, StringComparison.Ordinal));
        await File.WriteAllLinesAsync(file, lines.Where(l => !l.StartsWith("temp ", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/nodes")).StatusCode);
    }

    [Fact]
    public async Task Login_sets_a_secure_http_only_session_cookie_and_returns_to_the_page_asked_for()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync(DashboardUrl.Of(federation, $"/runs/{federation.HeartRun}"));
        await page.FillAsync("input[name=token]", federation.Host.AdminToken);
        await page.ClickAsync("#login button");
        // The redirect's target and the cookie it set are what is checked: waiting for the page's load event as well
        // (the default) once timed out on a loaded CI machine with the network idle and the URL already there.
        await DashboardUrl.ReachedAsync(page, $"/runs/{federation.HeartRun}");
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "cohort_session");
        Assert.True(cookie.HttpOnly);
        Assert.True(cookie.Secure);
        Assert.Equal(Microsoft.Playwright.SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain(federation.Host.AdminToken, cookie.Value, StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_viewer_sees_runs_but_cannot_start_or_stop_one()
    {
        var page = await browser.LoggedInAsync(federation, federation.ViewerToken);
        await page.GotoAsync(DashboardUrl.Of(federation, $"/runs/{federation.SlowRun}"));
        Assert.Contains("viewer", await page.TextContentAsync("header .who"), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#stop-run").CountAsync());
        Assert.Equal(0, await page.Locator("a[href='/runs/new']").CountAsync());

        int runsBefore = (await federation.Store.ListRunsAsync(null, CancellationToken.None)).Count;
        var form = await page.GotoAsync(DashboardUrl.Of(federation, "/runs/new"));
        Assert.Equal(403, form!.Status);
        var stop = await page.Context.APIRequest.PostAsync(DashboardUrl.Of(federation, $"/runs/{federation.SlowRun}/stop"));
        Assert.Equal(403, stop.Status);
        var start = await page.Context.APIRequest.PostAsync(DashboardUrl.Of(federation, "/runs"),
            new() { Multipart = page.Context.APIRequest.CreateFormData().Set("plan", Federation.SlowPlan) });
        Assert.Equal(403, start.Status);

        Assert.Equal(RunStatus.Running, (await federation.Store.GetRunAsync(federation.SlowRun, CancellationToken.None))!.Status);
        Assert.Equal(runsBefore, (await federation.Store.ListRunsAsync(null, CancellationToken.None)).Count);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_named_operator_logs_in_with_a_password_may_open_the_new_run_form_and_a_viewer_sees_which_permission_is_missing()
    {
        var users = federation.Host.Services.GetRequiredService<UserAccounts>();
        if (users.Find("olga") is null) users.Add("olga", AccessRole.Operator, "operator password 1");
        if (users.Find("vera") is null) users.Add("vera", AccessRole.Viewer, "viewer password 1");

        var page = await browser.NewPageAsync();
        await page.GotoAsync(DashboardUrl.Of(federation, "/login"));
        await page.FillAsync("input[name=user]", "olga");
        await page.FillAsync("input[name=password]", "operator password 1");
        await page.ClickAsync("#login button");
        await page.WaitForURLAsync(u => !u.Contains("/login", StringComparison.Ordinal));
        Assert.Contains("olga · operator", await page.TextContentAsync("header .who"), StringComparison.Ordinal);
        Assert.Equal(1, await page.Locator("a[href='/runs/new']").CountAsync());
        Assert.Equal(200, (await page.GotoAsync(DashboardUrl.Of(federation, "/runs/new")))!.Status);
        await page.GotoAsync(DashboardUrl.Of(federation, $"/runs/{federation.HeartRun}"));
        Assert.True(await page.Locator("#models a.download").CountAsync() > 0);
        await page.Context.CloseAsync();

        page = await browser.NewPageAsync();
        await page.GotoAsync(DashboardUrl.Of(federation, "/login"));
        await page.FillAsync("input[name=user]", "vera");
        await page.FillAsync("input[name=password]", "viewer password 1");
        await page.ClickAsync("#login button");
        await page.WaitForURLAsync(u => !u.Contains("/login", StringComparison.Ordinal));
        var refused = await page.GotoAsync(DashboardUrl.Of(federation, "/runs/new"));
        Assert.Equal(403, refused!.Status);
        Assert.Equal("forbidden: role viewer lacks permission submit_run ('vera')", await page.TextContentAsync("#forbidden"));
        // Viewers see which models exist but get no download links, and the download itself is refused.
        await page.GotoAsync(DashboardUrl.Of(federation, $"/runs/{federation.HeartRun}"));
        Assert.True(await page.Locator("#models tr").CountAsync() > 1);
        Assert.Equal(0, await page.Locator("#models a.download").CountAsync());
        var download = await page.Context.APIRequest.GetAsync(DashboardUrl.Of(federation, $"/runs/{federation.HeartRun}/models/1"));
        Assert.Equal(403, download.Status);
        Assert.Contains("lacks permission pull_model", await download.TextAsync(), StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }
}
