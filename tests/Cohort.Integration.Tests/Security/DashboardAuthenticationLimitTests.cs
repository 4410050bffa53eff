using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Cohort.Audit;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Cohort.Integration.Tests.Security;

/// <summary>
/// The dashboard's credentials count towards the same per-address failed-authentication limit as the Control API's,
/// checked with plain HTTP and gRPC clients against a server process (30 failures a minute, the default).
/// </summary>
public sealed partial class DashboardAuthenticationLimitTests
{
    private const int Limit = 30;

    [Fact]
    public async Task Thirty_bad_bearer_tokens_on_the_dashboard_get_the_address_refused_with_429_and_retry_after()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = Client(server);
        // Every path behind the login takes part: pages, the metrics scrape, model downloads, the live feed.
        string[] paths = ["/runs", "/metrics", "/runs/r/models/1", "/events", "/"];
        for (int i = 0; i < Limit; i++)
        {
            var refused = await GetAsync(client, paths[i % paths.Length], "Bearer " + new string('A', 43) + i);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        var limited = await GetAsync(client, "/runs", "Bearer " + new string('A', 43) + "x");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        var retry = limited.Headers.RetryAfter?.Delta;
        Assert.NotNull(retry);
        Assert.InRange(retry.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        string caller = CallerIn().Match(await limited.Content.ReadAsStringAsync()).Groups[1].Value;
        Assert.Equal($"too many failed authentications from {caller}; wait a minute\n", await limited.Content.ReadAsStringAsync());
        // An unknown session cookie and a header in another scheme are refused the same way.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await GetAsync(client, "/metrics", null, cookie: "cohort_session=" + new string('B', 43))).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await GetAsync(client, "/metrics", "Basic YWRtaW46YWRtaW4=")).StatusCode);
        // The login form is refused before its credential is checked, with Retry-After too.
        var login = await LogInAsync(client, server.AdminToken);
        Assert.Equal(HttpStatusCode.TooManyRequests, login.StatusCode);
        Assert.NotNull(login.Headers.RetryAfter?.Delta);

        // Refusals are logged as the call gate logs them: a few throttled lines, not one per request.
        string output = server.Process.Output;
        Assert.Contains($"refused an unauthenticated dashboard request to /runs from {caller}", output, StringComparison.Ordinal);
        Assert.Contains($"refusing dashboard requests from {caller}: {Limit} failed authentications in a minute", output, StringComparison.Ordinal);
        Assert.True(Regex.Count(output, "dashboard request") <= 4, output);
        // ... and audited as the Control API's refusals are (control.refused, by address), one entry per counted failure.
        var refusals = await AuditedAsync(server, e => e.Kind == AuditKinds.ControlRefused && e.Detail.StartsWith("dashboard request to ", StringComparison.Ordinal), Limit);
        Assert.All(refusals, e => Assert.Equal($"address:{caller}", e.Actor));
        Assert.Contains(refusals, e => e.Detail == "dashboard request to /metrics refused: unknown operator token or expired session");
    }

    [Fact]
    public async Task Valid_credentials_from_an_address_over_the_limit_still_go_through_as_on_the_Control_API()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = Client(server);
        for (int i = 0; i < Limit; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/runs", "Bearer wrong-" + i)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await GetAsync(client, "/runs", "Bearer wrong")).StatusCode);

        // The Control API lets valid credentials from a limited address through (an operator behind the guesser's NAT
        // is not locked out) and so does the dashboard; logins, on both, wait out the minute.
        Assert.Empty(await server.Control.ListAsync(null, CancellationToken.None));
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, "/runs", "Bearer " + server.AdminToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, "/metrics", "Bearer " + server.AdminToken)).StatusCode);
        using var control = Control(server, "");
        var login = await Assert.ThrowsAsync<RpcException>(async () => await control.Api.LoginAsync(new LoginRequest { User = "admin", Password = "whatever-it-is" }));
        Assert.Equal(StatusCode.ResourceExhausted, login.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await LogInAsync(client, server.AdminToken)).StatusCode);
    }

    [Fact]
    public async Task Failures_on_the_Control_API_count_against_the_dashboard()
    {
        await using var server = await ServerProcess.StartAsync();
        using var control = Control(server, "not-a-token-" + new string('x', 40));
        for (int i = 0; i < Limit; i++)
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(async () => await control.Api.ListRunsAsync(new ListRunsRequest()))).StatusCode);

        using var client = Client(server);
        var limited = await GetAsync(client, "/runs", "Bearer " + new string('A', 44));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task Failures_on_the_dashboard_count_against_the_Control_API()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = Client(server);
        for (int i = 0; i < Limit; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/runs", "Bearer " + new string('A', 43) + i)).StatusCode);

        using var control = Control(server, "not-a-token-" + new string('x', 40));
        var limited = await Assert.ThrowsAsync<RpcException>(async () => await control.Api.ListRunsAsync(new ListRunsRequest()));
        Assert.Equal(StatusCode.ResourceExhausted, limited.StatusCode);
        Assert.StartsWith("too many failed authentications from ", limited.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_without_a_credential_are_not_counted_and_a_stale_session_cookie_counts_once()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = Client(server);
        // A browser without a session: pages redirect to the login form, everything else gets 401; none of it counts.
        for (int i = 0; i < 2 * Limit; i++)
        {
            Assert.Equal(HttpStatusCode.Redirect, (await GetAsync(client, "/", null, html: true)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/runs", null)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, "/login", null, html: true)).StatusCode);
        }

        // A session cookie the server does not know fails once and is cleared, so an open tab does not use up the address.
        var stale = await GetAsync(client, "/", null, html: true, cookie: "cohort_session=" + new string('C', 43));
        Assert.Equal(HttpStatusCode.Redirect, stale.StatusCode);
        Assert.Contains(stale.Headers.GetValues("Set-Cookie"), c => c.StartsWith("cohort_session=;", StringComparison.Ordinal) && c.Contains("expires=Thu, 01 Jan 1970", StringComparison.Ordinal));

        // So the full budget is left: 29 bad bearers more are refused with 401, and only the next one with 429.
        for (int i = 0; i < Limit - 1; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/runs", "Bearer wrong-" + i)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await GetAsync(client, "/runs", "Bearer wrong")).StatusCode);
    }

    /// <summary>Sends one GET with the given authorization header and cookie (and an HTML Accept header, as a browser's page load).</summary>
    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string? authorization, bool html = false, string? cookie = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        if (cookie is not null) request.Headers.TryAddWithoutValidation("Cookie", cookie);
        if (html) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));
        // Headers only: the live feed answers a valid request with a stream that never ends.
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    /// <summary>Loads the login form (its token and cookie), then posts it with <paramref name="token"/>.</summary>
    private static async Task<HttpResponseMessage> LogInAsync(HttpClient client, string token)
    {
        using var jarless = new HttpRequestMessage(HttpMethod.Get, "/login");
        var form = await client.SendAsync(jarless);
        var csrf = FormToken().Match(await form.Content.ReadAsStringAsync());
        string cookie = form.Headers.TryGetValues("Set-Cookie", out var set) ? set.First().Split(';')[0] : "";
        using var post = new HttpRequestMessage(HttpMethod.Post, "/login")
        {
            Content = new FormUrlEncodedContent([new("token", token), new("next", "/"), new("csrf", csrf.Success ? csrf.Groups[1].Value : "")]),
        };
        post.Headers.TryAddWithoutValidation("Cookie", cookie);
        return await client.SendAsync(post);
    }

    /// <summary>Waits (up to ten seconds) until the server's ledger holds at least <paramref name="count"/> entries that match, and returns them.</summary>
    private static async Task<List<AuditEvent>> AuditedAsync(ServerProcess server, Func<AuditEvent, bool> match, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            using var file = new FileStream(Path.Combine(server.DataDir, AuditLedger.FileName), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(file);
            var found = new List<AuditEvent>();
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line.Length > 0 && line.EndsWith('}') && AuditEntry.Parse(line).Event is var e && match(e)) found.Add(e);
            }
            if (found.Count >= count || DateTime.UtcNow > deadline) return found.Count >= count ? found : throw new Xunit.Sdk.XunitException($"{found.Count} matching ledger entries, not {count}");
            await Task.Delay(200);
        }
    }

    private static HttpClient Client(ServerProcess server) => new(new HttpClientHandler
    {
        AllowAutoRedirect = false,
        // Each request names its own credential: nothing is kept between them.
        UseCookies = false,
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
    })
    {
        BaseAddress = server.DashboardAddress,
    };

    private static ApiClient Control(ServerProcess server, string token) => new(GrpcChannels.Create(new ConnectionOptions(server.Address.ToString(), token, server.CaFile)));

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();

    [GeneratedRegex("from (\\S+);")]
    private static partial Regex CallerIn();

    /// <summary>A Control API client that owns its channel.</summary>
    private sealed class ApiClient(GrpcChannel channel) : IDisposable
    {
        public global::Cohort.Transport.V1.Control.ControlClient Api { get; } = new(channel);

        public void Dispose() => channel.Dispose();
    }
}
