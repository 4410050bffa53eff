using System.Net;
using System.Text.RegularExpressions;
using Cohort.Integration.Tests.Infrastructure;

namespace Cohort.Integration.Tests.Security;

/// <summary>The dashboard's login, forms and responses, checked with a plain HTTP client against a server process.</summary>
public sealed partial class DashboardSecurityTests
{
    [Fact]
    public async Task Login_redirects_only_to_local_paths()
    {
        await using var server = await ServerProcess.StartAsync();
        var cases = new Dictionary<string, string>
        {
            ["/runs?status=running"] = "/runs?status=running",
            ["/\t/evil.example/"] = "/",
            ["/\n/evil.example/"] = "/",
            ["/\r\nSet-Cookie: x=y"] = "/",
            ["//evil.example/"] = "/",
            ["/\\evil.example/"] = "/",
            ["\\\\evil.example/"] = "/",
            ["https://evil.example/"] = "/",
            ["/ /evil.example"] = "/",
            [""] = "/",
        };
        foreach (var (next, expected) in cases)
        {
            using var client = Client(server);
            var response = await LogInAsync(client, server.AdminToken, next);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.Equal(expected, response.Headers.Location!.OriginalString);
        }
    }

    [Fact]
    public async Task Cookie_posts_need_the_forms_anti_forgery_token_even_without_an_origin_header()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = Client(server);
        Assert.Equal(HttpStatusCode.Redirect, (await LogInAsync(client, server.AdminToken, "/")).StatusCode);

        // Every POST form on a page carries the token.
        string overview = await client.GetStringAsync("/");
        var forms = PostForms().Matches(overview);
        Assert.NotEmpty(forms);
        Assert.All(forms, f => Assert.Contains("name=\"csrf\"", f.Value, StringComparison.Ordinal));
        string token = FormToken().Match(overview).Groups[1].Value;

        var forged = await client.PostAsync("/runs/no-such-run/stop", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Contains("anti-forgery token", await forged.Content.ReadAsStringAsync());
        var wrong = await client.PostAsync("/runs/no-such-run/stop", new FormUrlEncodedContent([new("csrf", (token[0] == '0' ? "1" : "0") + token[1..])]));
        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        // With the token the request reaches the action (which knows no such run).
        var genuine = await client.PostAsync("/runs/no-such-run/stop", new FormUrlEncodedContent([new("csrf", token)]));
        Assert.Equal(HttpStatusCode.NotFound, genuine.StatusCode);

        // The multipart new-run form carries it too: a bad plan reaches the parser and comes back with its error.
        string newRun = await client.GetStringAsync("/runs/new");
        using var multipart = new MultipartFormDataContent
        {
            { new StringContent(FormToken().Match(newRun).Groups[1].Value), "csrf" },
            { new StringContent("name: x\nrounds: zero\n"), "plan" },
        };
        var refusedPlan = await client.PostAsync("/runs", multipart);
        Assert.Equal(HttpStatusCode.BadRequest, refusedPlan.StatusCode);
        Assert.Contains("submit-error", await refusedPlan.Content.ReadAsStringAsync());

        // Login CSRF: a login post without the login form's token is refused.
        using var other = Client(server);
        var blind = await other.PostAsync("/login", new FormUrlEncodedContent([new("token", server.AdminToken), new("next", "/")]));
        Assert.Equal(HttpStatusCode.Forbidden, blind.StatusCode);
        Assert.DoesNotContain(blind.Headers, h => h.Key == "Set-Cookie" && h.Value.Any(v => v.StartsWith("cohort_session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Responses_carry_security_headers_and_no_server_banner()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = Client(server);
        var response = await client.GetAsync("/login");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("same-origin", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.StartsWith("max-age=", response.Headers.GetValues("Strict-Transport-Security").Single(), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("Server"));
        Assert.False((await client.GetAsync("/healthz")).Headers.Contains("Server"));
    }

    [Fact]
    public async Task Failed_logins_from_one_address_are_limited()
    {
        await using var server = await ServerProcess.StartAsync();
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 40; i++)
        {
            using var client = Client(server);
            statuses.Add((await LogInAsync(client, "wrong-token-" + i, "/")).StatusCode);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, statuses[0]);
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
        Assert.True(statuses.Count(s => s == HttpStatusCode.Unauthorized) <= 31, string.Join(",", statuses));
        // Even the right token waits out the minute once the address is over the limit.
        using var late = Client(server);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await LogInAsync(late, server.AdminToken, "/")).StatusCode);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_data_folder_and_state_database_are_owner_only()
    {
        await using var server = await ServerProcess.StartAsync();
        var owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(owner | UnixFileMode.UserExecute, File.GetUnixFileMode(server.DataDir));
        Assert.Equal(owner, File.GetUnixFileMode(Path.Combine(server.DataDir, "cohort.db")));
        Assert.Equal(owner, File.GetUnixFileMode(Path.Combine(server.DataDir, "admin.token")));
        foreach (var journal in Directory.GetFiles(server.DataDir, "cohort.db-*"))
            Assert.Equal(owner, File.GetUnixFileMode(journal));
    }

    private static HttpClient Client(ServerProcess server) => new(new HttpClientHandler
    {
        AllowAutoRedirect = false,
        UseCookies = true,
        CookieContainer = new CookieContainer(),
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
    })
    {
        BaseAddress = server.DashboardAddress,
    };

    /// <summary>Loads the login form (its token and cookie), then posts it.</summary>
    private static async Task<HttpResponseMessage> LogInAsync(HttpClient client, string token, string next)
    {
        var form = await client.GetAsync("/login");
        string html = await form.Content.ReadAsStringAsync();
        var csrf = FormToken().Match(html);
        return await client.PostAsync("/login", new FormUrlEncodedContent([new("token", token), new("next", next), new("csrf", csrf.Success ? csrf.Groups[1].Value : "")]));
    }

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();

    [GeneratedRegex("<form\\b[^>]*method=\"post\"[^>]*>(<input[^>]*>)?")]
    private static partial Regex PostForms();
}
