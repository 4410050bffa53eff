using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Security;
using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Cohort.Integration.Tests.Security;

/// <summary>Roles, named users and sessions: the same permission table on the Control API (real gRPC) and the dashboard (real HTTP).</summary>
public sealed partial class RolesTests
{
    private const string AlicePassword = "correct horse battery staple";
    private const string BobPassword = "tr0ub4dor&3-but-longer";

    [Fact]
    public async Task Each_role_gets_exactly_its_permissions_on_the_control_api_and_refusals_name_the_permission()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = Client(server, server.Host.AdminToken);
        string viewerToken = (await admin.Api.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = "grafana" })).Token;
        string operatorToken = (await admin.Api.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = "ci-bot", Role = "operator" })).Token;
        var refusedAdminToken = await Assert.ThrowsAsync<RpcException>(async () => await admin.Api.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = "root", Role = "admin" }));
        Assert.Equal(StatusCode.InvalidArgument, refusedAdminToken.StatusCode);
        await admin.Api.AddUserAsync(new AddUserRequest { Name = "alice", Role = "operator", Password = AlicePassword });
        await admin.Api.AddUserAsync(new AddUserRequest { Name = "victor", Role = "viewer", Password = AlicePassword });
        using var anonymous = Client(server, "");
        var aliceLogin = await anonymous.Api.LoginAsync(new LoginRequest { User = "alice", Password = AlicePassword });
        Assert.Equal("operator", aliceLogin.Role);
        string victorSession = (await anonymous.Api.LoginAsync(new LoginRequest { User = "victor", Password = AlicePassword })).Token;
        // A refusal does not echo what cannot be a user name.
        var odd = await Assert.ThrowsAsync<RpcException>(async () => await anonymous.Api.LoginAsync(new LoginRequest { User = new string('x', 5000) + "\n", Password = AlicePassword }));
        Assert.Equal("wrong user name or password for (not a valid user name)", odd.Status.Detail);

        foreach (var (label, token) in new[] { ("viewer token", viewerToken), ("viewer user", victorSession) })
        {
            using var viewer = Client(server, token);
            Assert.NotNull(await viewer.Api.ListRunsAsync(new ListRunsRequest()));
            Assert.NotNull(await viewer.Api.ListNodesAsync(new ListNodesRequest()));
            var submit = await Assert.ThrowsAsync<RpcException>(async () => await viewer.Api.SubmitRunAsync(new SubmitRunRequest { PlanYaml = TestPlans.Empty(1, 1, 1), PlanSource = "t" }));
            Assert.Equal(StatusCode.PermissionDenied, submit.StatusCode);
            Assert.StartsWith("role viewer lacks permission submit_run", submit.Status.Detail, StringComparison.Ordinal);
            var stop = await Assert.ThrowsAsync<RpcException>(async () => await viewer.Api.StopRunAsync(new StopRunRequest { RunId = "x" }));
            Assert.Contains("lacks permission stop_run", stop.Status.Detail, StringComparison.Ordinal);
            var pull = await Assert.ThrowsAsync<RpcException>(async () => await ReadAllAsync(viewer.Api.PullModel(new PullModelRequest { RunId = "x" })));
            Assert.True(pull.Status.Detail.Contains("lacks permission pull_model", StringComparison.Ordinal), label);
        }
        Assert.Empty((await admin.Api.ListRunsAsync(new ListRunsRequest())).Runs);

        foreach (var token in new[] { operatorToken, aliceLogin.Token })
        {
            using var op = Client(server, token);
            var run = await op.Api.SubmitRunAsync(new SubmitRunRequest { PlanYaml = TestPlans.Empty(1, 1, 1), PlanSource = "t" });
            var stopped = await op.Api.StopRunAsync(new StopRunRequest { RunId = run.Id });
            Assert.Equal(run.Id, stopped.Id);
            var mint = await Assert.ThrowsAsync<RpcException>(async () => await op.Api.CreateNodeTokenAsync(new CreateNodeTokenRequest { NodeName = "site-x" }));
            Assert.Equal(StatusCode.PermissionDenied, mint.StatusCode);
            Assert.StartsWith("role operator lacks permission manage_nodes", mint.Status.Detail, StringComparison.Ordinal);
            var addUser = await Assert.ThrowsAsync<RpcException>(async () => await op.Api.AddUserAsync(new AddUserRequest { Name = "mallory", Role = "admin", Password = AlicePassword }));
            Assert.StartsWith("role operator lacks permission manage_users", addUser.Status.Detail, StringComparison.Ordinal);
            var promote = await Assert.ThrowsAsync<RpcException>(async () => await op.Api.SetUserRoleAsync(new SetUserRoleRequest { Name = "alice", Role = "admin" }));
            Assert.Contains("lacks permission manage_users", promote.Status.Detail, StringComparison.Ordinal);
            var viewerToken2 = await Assert.ThrowsAsync<RpcException>(async () => await op.Api.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = "x", Role = "operator" }));
            Assert.Contains("lacks permission manage_users", viewerToken2.Status.Detail, StringComparison.Ordinal);
        }
        Assert.Equal(2, (await admin.Api.ListRunsAsync(new ListRunsRequest())).Runs.Count);
        Assert.Null(server.Host.Services.GetService<UserAccounts>()!.Find("mallory"));

        // The admin may do all of it.
        Assert.NotEmpty((await admin.Api.CreateNodeTokenAsync(new CreateNodeTokenRequest { NodeName = "site-x" })).Token);
        Assert.Equal("admin", (await admin.Api.SetUserRoleAsync(new SetUserRoleRequest { Name = "alice", Role = "admin" })).Role);

        // Alice's open session carries her new role at once, and a demotion takes effect at once too.
        using var alice = Client(server, aliceLogin.Token);
        Assert.NotEmpty((await alice.Api.CreateNodeTokenAsync(new CreateNodeTokenRequest { NodeName = "site-y" })).Token);
        await admin.Api.SetUserRoleAsync(new SetUserRoleRequest { Name = "alice", Role = "viewer" });
        var demoted = await Assert.ThrowsAsync<RpcException>(async () => await alice.Api.SubmitRunAsync(new SubmitRunRequest { PlanYaml = TestPlans.Empty(1, 1, 1), PlanSource = "t" }));
        Assert.StartsWith("role viewer lacks permission submit_run", demoted.Status.Detail, StringComparison.Ordinal);
        var badRole = await Assert.ThrowsAsync<RpcException>(async () => await admin.Api.SetUserRoleAsync(new SetUserRoleRequest { Name = "alice", Role = "root" }));
        Assert.Equal("role 'root' must be one of viewer, operator, admin", badRole.Status.Detail);
    }

    [Fact]
    public async Task A_user_and_an_operator_token_cannot_share_a_name_and_no_token_is_called_admin()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = Client(server, server.Host.AdminToken);
        await admin.Api.AddUserAsync(new AddUserRequest { Name = "alice", Role = "viewer", Password = AlicePassword });
        _ = await admin.Api.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = "ci-bot", Role = "operator" });

        // A run records its submitter by name and a site policy trusts names: a token called alice would pass for her.
        var tokenForUser = await Assert.ThrowsAsync<RpcException>(async () => await admin.Api.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = "alice", Role = "operator" }));
        Assert.Equal(StatusCode.AlreadyExists, tokenForUser.StatusCode);
        Assert.StartsWith("a user is named 'alice': users and operator tokens share one name space", tokenForUser.Status.Detail);
        var userForToken = await Assert.ThrowsAsync<RpcException>(async () => await admin.Api.AddUserAsync(new AddUserRequest { Name = "ci-bot", Role = "admin", Password = AlicePassword }));
        Assert.Equal(StatusCode.AlreadyExists, userForToken.StatusCode);
        Assert.StartsWith("an operator token is named 'ci-bot': users and operator tokens share one name space", userForToken.Status.Detail);
        foreach (string name in new[] { "admin", "Admin" })
        {
            var reserved = await Assert.ThrowsAsync<RpcException>(async () => await admin.Api.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = name }));
            Assert.Equal(StatusCode.InvalidArgument, reserved.StatusCode);
            Assert.Equal("token name 'admin' is reserved for the admin token", reserved.Status.Detail);
        }

        // Nothing was issued by the refusals: alice is still only a user, ci-bot still only a token, and names are case-sensitive.
        Assert.Equal(["alice"], (await admin.Api.ListUsersAsync(new ListUsersRequest())).Users.Select(u => u.Name));
        Assert.Equal(["ci-bot"], File.ReadAllLines(ViewerTokens.FileIn(server.DataDir)).Select(l => l.Split(' ')[0]));
        await admin.Api.AddUserAsync(new AddUserRequest { Name = "CI-bot", Role = "viewer", Password = AlicePassword });
        _ = await admin.Api.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = "ci-bot" });

        // A user and a token asked for at the same moment: one gets the name, the other is refused.
        for (int i = 0; i < 4; i++)
        {
            string name = $"race-{i}";
            var asked = new Task[]
            {
                admin.Api.AddUserAsync(new AddUserRequest { Name = name, Role = "viewer", Password = AlicePassword }).ResponseAsync,
                admin.Api.CreateViewerTokenAsync(new CreateViewerTokenRequest { Name = name }).ResponseAsync,
            };
            try
            {
                await Task.WhenAll(asked);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
            {
            }
            Assert.True(asked.Count(t => t.IsCompletedSuccessfully) == 1,
                $"{name}: {string.Join("; ", asked.Select(t => t.IsCompletedSuccessfully ? "issued" : t.Exception!.InnerException!.Message))}");
        }
    }

    [Fact]
    public async Task A_server_warns_at_start_of_a_user_and_a_token_that_share_a_name()
    {
        var first = await ServerProcess.StartAsync();
        string dataDir = first.DataDir;
        try
        {
            using (var admin = Client(first.Address, first.AdminToken, first.CaFile))
                await admin.Api.AddUserAsync(new AddUserRequest { Name = "alice", Role = "viewer", Password = AlicePassword });
            await first.KillAsync();
            // As a token file from before names were checked, or edited by hand, would have it.
            File.AppendAllText(ViewerTokens.FileIn(dataDir), $"alice {Tokens.Hash(Tokens.New())} 2026-01-01T00:00:00Z operator\n");

            await using var restarted = await ServerProcess.StartInAsync(dataDir, 0);
            await restarted.Process.WaitForOutputAsync("A user and an operator token are both named 'alice'");
        }
        finally
        {
            await first.DisposeAsync();
        }
    }

    [Fact]
    public void A_token_file_removed_or_a_hand_written_admin_line_grants_nothing()
    {
        string dir = Directory.CreateTempSubdirectory("cohort-tokens-").FullName;
        try
        {
            var tokens = new ViewerTokens(dir);
            string token = tokens.Issue("grafana");
            Assert.Equal("grafana", tokens.Find(token)?.Name);
            // Deleting the file revokes every token at the next request, also right after an issue.
            File.Delete(ViewerTokens.FileIn(dir));
            Assert.Null(tokens.Find(token));
            Assert.False(tokens.Holds("grafana"));

            // A line written by hand under the admin token's name is no token.
            string forged = Tokens.New();
            File.WriteAllText(ViewerTokens.FileIn(dir), $"Admin {Tokens.Hash(forged)} 2026-01-01T00:00:00Z operator\n");
            Assert.Null(tokens.Find(forged));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_wrong_password_is_refused_and_password_logins_count_towards_the_failed_login_limit()
    {
        await using var server = await ServerProcess.StartAsync("--failed-auth-per-minute", "3");
        using var admin = Client(server.Address, server.AdminToken, server.CaFile);
        await admin.Api.AddUserAsync(new AddUserRequest { Name = "alice", Role = "operator", Password = AlicePassword });
        var tooShort = await Assert.ThrowsAsync<RpcException>(async () => await admin.Api.AddUserAsync(new AddUserRequest { Name = "bob", Role = "viewer", Password = "short" }));
        Assert.Equal("password for 'bob' has 5 characters; it needs at least 12", tooShort.Status.Detail);

        using var anonymous = Client(server.Address, "", server.CaFile);
        // Nothing but Login answers without a token.
        var unauthenticated = await Assert.ThrowsAsync<RpcException>(async () => await anonymous.Api.ListUsersAsync(new ListUsersRequest()));
        Assert.Equal(StatusCode.Unauthenticated, unauthenticated.StatusCode);
        var codes = new List<StatusCode> { StatusCode.Unauthenticated };
        foreach (var (user, password) in new[] { ("alice", AlicePassword + "!"), ("alice", ""), ("nobody", AlicePassword), ("alice", AlicePassword.ToUpperInvariant()) })
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await anonymous.Api.LoginAsync(new LoginRequest { User = user, Password = password }));
            codes.Add(e.StatusCode);
            if (e.StatusCode == StatusCode.Unauthenticated) Assert.Equal($"wrong user name or password for '{user}'", e.Status.Detail);
        }
        // 1 unauthenticated call + 2 wrong passwords reach the limit of 3 per minute; the 3rd and 4th password tries are refused before they are checked.
        Assert.Equal([StatusCode.Unauthenticated, StatusCode.Unauthenticated, StatusCode.Unauthenticated, StatusCode.ResourceExhausted, StatusCode.ResourceExhausted], codes);
        var right = await Assert.ThrowsAsync<RpcException>(async () => await anonymous.Api.LoginAsync(new LoginRequest { User = "alice", Password = AlicePassword }));
        Assert.Equal(StatusCode.ResourceExhausted, right.StatusCode);

        // The dashboard's login form shares the limit.
        using var browser = Dashboard(server.DashboardAddress!);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await LogInAsync(browser, "alice", AlicePassword)).StatusCode);

        // Valid credentials from the same address still work: someone failing there (behind the same NAT or
        // proxy as the sites) cannot lock the admin or the nodes out. Unknown tokens are still refused for the minute.
        Assert.Single((await admin.Api.ListUsersAsync(new ListUsersRequest())).Users);
        using var stranger = Client(server.Address, "not-a-token-" + new string('x', 40), server.CaFile);
        Assert.Equal(StatusCode.ResourceExhausted, (await Assert.ThrowsAsync<RpcException>(async () => await stranger.Api.ListRunsAsync(new ListRunsRequest()))).StatusCode);
    }

    [Fact]
    public async Task A_wrong_password_on_the_dashboard_is_refused_and_the_refusal_page_names_the_missing_permission()
    {
        await using var server = await TestServer.StartAsync();
        await server.Control.AddUserAsync("victor", "viewer", AlicePassword, default);
        await server.Control.AddUserAsync("olga", "operator", BobPassword, default);

        using (var wrong = Dashboard(server.Host.DashboardAddress!))
        {
            var refused = await LogInAsync(wrong, "victor", BobPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("wrong user name or password for &#39;victor&#39;", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/runs")).StatusCode);
        }

        using var viewer = Dashboard(server.Host.DashboardAddress!);
        Assert.Equal(HttpStatusCode.Redirect, (await LogInAsync(viewer, "victor", AlicePassword)).StatusCode);
        string overview = await viewer.GetStringAsync("/");
        Assert.Contains("victor · viewer", overview, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"/runs/new\"", overview, StringComparison.Ordinal);
        var page = await viewer.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/runs/new") { Headers = { { "Accept", "text/html" } } });
        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        Assert.Contains("forbidden: role viewer lacks permission submit_run", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var stop = await viewer.PostAsync("/runs/no-such-run/stop", new FormUrlEncodedContent([new("csrf", FormToken().Match(overview).Groups[1].Value)]));
        Assert.Equal(HttpStatusCode.Forbidden, stop.StatusCode);
        Assert.StartsWith("forbidden: role viewer lacks permission stop_run", await stop.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var op = Dashboard(server.Host.DashboardAddress!);
        Assert.Equal(HttpStatusCode.Redirect, (await LogInAsync(op, "olga", BobPassword)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await op.GetAsync("/runs/new")).StatusCode);
        string opOverview = await op.GetStringAsync("/");
        Assert.Contains("olga · operator", opOverview, StringComparison.Ordinal);
        // Past the permission check the action runs (and knows no such run).
        var opStop = await op.PostAsync("/runs/no-such-run/stop", new FormUrlEncodedContent([new("csrf", FormToken().Match(opOverview).Groups[1].Value)]));
        Assert.Equal(HttpStatusCode.NotFound, opStop.StatusCode);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_users_file_holds_a_salted_pbkdf2_hash_and_never_the_password()
    {
        await using var server = await TestServer.StartAsync();
        await server.Control.AddUserAsync("alice", "operator", AlicePassword, default);
        await server.Control.AddUserAsync("bob", "operator", AlicePassword, default);
        string file = UserAccounts.FileIn(server.DataDir);
        string text = await File.ReadAllTextAsync(file);
        Assert.DoesNotContain(AlicePassword, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(AlicePassword)), text, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var users = JsonDocument.Parse(text).RootElement.EnumerateArray().ToDictionary(u => u.GetProperty("Name").GetString()!);
        foreach (var u in users.Values)
        {
            Assert.Equal("pbkdf2-sha256", u.GetProperty("Algorithm").GetString());
            Assert.True(u.GetProperty("Iterations").GetInt32() >= 600_000);
            var salt = Convert.FromBase64String(u.GetProperty("Salt").GetString()!);
            Assert.Equal(16, salt.Length);
            // The stored hash is PBKDF2-SHA256 of the password with that salt and count, computed here independently.
            var expected = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(AlicePassword), salt, u.GetProperty("Iterations").GetInt32(), HashAlgorithmName.SHA256, 32);
            Assert.Equal(Convert.ToBase64String(expected), u.GetProperty("Hash").GetString());
        }
        // The same password under two names gives two different hashes (salted).
        Assert.NotEqual(users["alice"].GetProperty("Hash").GetString(), users["bob"].GetProperty("Hash").GetString());
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Sessions_survive_a_restart_are_stored_hashed_and_end_at_logout_or_when_the_user_is_removed()
    {
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-roles-" + Guid.NewGuid().ToString("N")[..8]);
        var server = await TestServer.StartAsync(dataDir);
        var cookies = new CookieContainer();
        string cliSession, cookie, bobCookie;
        try
        {
            await server.Control.AddUserAsync("alice", "operator", AlicePassword, default);
            await server.Control.AddUserAsync("bob", "viewer", BobPassword, default);
            using (var browser = Dashboard(server.Host.DashboardAddress!, cookies))
            {
                Assert.Equal(HttpStatusCode.Redirect, (await LogInAsync(browser, "alice", AlicePassword)).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/runs")).StatusCode);
            }
            cookie = cookies.GetAllCookies().Single(c => c.Name == DashboardSessions.CookieName).Value;
            var bobCookies = new CookieContainer();
            using (var bob = Dashboard(server.Host.DashboardAddress!, bobCookies))
                Assert.Equal(HttpStatusCode.Redirect, (await LogInAsync(bob, "bob", BobPassword)).StatusCode);
            bobCookie = bobCookies.GetAllCookies().Single(c => c.Name == DashboardSessions.CookieName).Value;
            using var anonymous = Client(server, "");
            cliSession = (await anonymous.Api.LoginAsync(new LoginRequest { User = "alice", Password = AlicePassword })).Token;

            // Only hashes of the session ids are on disk.
            string sessions = await File.ReadAllTextAsync(DashboardSessions.FileIn(dataDir));
            foreach (var id in new[] { cookie, bobCookie, cliSession })
            {
                Assert.DoesNotContain(id, sessions, StringComparison.Ordinal);
                Assert.Contains(Tokens.Hash(id), sessions, StringComparison.Ordinal);
            }
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(DashboardSessions.FileIn(dataDir)));
            await server.StopAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        await using var restarted = await TestServer.StartAsync(dataDir);
        using var again = DashboardWithSession(restarted.Host.DashboardAddress!, cookie);
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync("/runs")).StatusCode);
        Assert.Contains("alice · operator", await again.GetStringAsync("/"), StringComparison.Ordinal);
        using var cli = Client(restarted, cliSession);
        var run = await cli.Api.SubmitRunAsync(new SubmitRunRequest { PlanYaml = TestPlans.Empty(1, 1, 1), PlanSource = "t" });
        await cli.Api.StopRunAsync(new StopRunRequest { RunId = run.Id });

        // Logout deletes the session on the server, so the cookie's value stops working everywhere.
        using var bobAgain = DashboardWithSession(restarted.Host.DashboardAddress!, bobCookie);
        string bobPage = await bobAgain.GetStringAsync("/");
        var logout = await bobAgain.PostAsync("/logout", new FormUrlEncodedContent([new("csrf", FormToken().Match(bobPage).Groups[1].Value)]));
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        using var bobReplay = DashboardWithSession(restarted.Host.DashboardAddress!, bobCookie);
        Assert.Equal(HttpStatusCode.Unauthorized, (await bobReplay.GetAsync("/runs")).StatusCode);
        Assert.DoesNotContain(Tokens.Hash(bobCookie), await File.ReadAllTextAsync(DashboardSessions.FileIn(dataDir)), StringComparison.Ordinal);

        // Removing alice ends her dashboard and Control API sessions at once.
        using var admin = Client(restarted, restarted.Host.AdminToken);
        var removed = await admin.Api.RemoveUserAsync(new RemoveUserRequest { Name = "alice" });
        Assert.Equal(2, removed.SessionsEnded);
        Assert.Equal(HttpStatusCode.Unauthorized, (await again.GetAsync("/runs")).StatusCode);
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await cli.Api.ListRunsAsync(new ListRunsRequest()));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        using var anonymous2 = Client(restarted, "");
        var gone = await Assert.ThrowsAsync<RpcException>(async () => await anonymous2.Api.LoginAsync(new LoginRequest { User = "alice", Password = AlicePassword }));
        Assert.Equal(StatusCode.Unauthenticated, gone.StatusCode);
    }

    [Fact]
    public async Task A_session_started_with_a_token_ends_when_the_token_is_replaced()
    {
        await using var server = await TestServer.StartAsync();
        string token = await server.Control.CreateViewerTokenAsync("ci-bot", default, "operator");
        using var browser = Dashboard(server.Host.DashboardAddress!);
        Assert.Equal(HttpStatusCode.Redirect, (await LogInWithTokenAsync(browser, token)).StatusCode);
        Assert.Contains("ci-bot · operator", await browser.GetStringAsync("/"), StringComparison.Ordinal);
        // Issuing ci-bot a new token replaces the old one; the session made from the old one ends with it.
        _ = await server.Control.CreateViewerTokenAsync("ci-bot", default, "operator");
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("/runs")).StatusCode);
    }

    private static async Task<T> ReadAllAsync<T>(AsyncServerStreamingCall<T> call)
    {
        T last = default!;
        await foreach (var m in call.ResponseStream.ReadAllAsync()) last = m;
        return last;
    }

    private static ApiClient Client(TestServer server, string token) => Client(server.Host.Address, token, server.Host.CaFile);

    private static ApiClient Client(Uri address, string token, string? ca) =>
        new(GrpcChannels.Create(new ConnectionOptions(address.ToString(), token, ca)));

    private static HttpClient Dashboard(Uri address, CookieContainer? cookies = null) => new(new HttpClientHandler
    {
        AllowAutoRedirect = false,
        UseCookies = true,
        CookieContainer = cookies ?? new CookieContainer(),
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
    })
    {
        BaseAddress = address,
    };

    /// <summary>A client that presents <paramref name="session"/> as its session cookie (as a browser kept it across the restart).</summary>
    private static HttpClient DashboardWithSession(Uri address, string session)
    {
        var cookies = new CookieContainer();
        cookies.Add(address, new Cookie(DashboardSessions.CookieName, session, "/"));
        return Dashboard(address, cookies);
    }

    private static async Task<HttpResponseMessage> LogInAsync(HttpClient client, string user, string password)
    {
        string html = await (await client.GetAsync("/login")).Content.ReadAsStringAsync();
        return await client.PostAsync("/login", new FormUrlEncodedContent([new("user", user), new("password", password), new("next", "/"), new("csrf", FormToken().Match(html).Groups[1].Value)]));
    }

    private static async Task<HttpResponseMessage> LogInWithTokenAsync(HttpClient client, string token)
    {
        string html = await (await client.GetAsync("/login")).Content.ReadAsStringAsync();
        return await client.PostAsync("/login", new FormUrlEncodedContent([new("token", token), new("next", "/"), new("csrf", FormToken().Match(html).Groups[1].Value)]));
    }

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();

    /// <summary>A raw Control API client on its own channel.</summary>
    private sealed class ApiClient(GrpcChannel channel) : IDisposable
    {
        public Control.ControlClient Api { get; } = new(channel);

        public void Dispose() => channel.Dispose();
    }
}
