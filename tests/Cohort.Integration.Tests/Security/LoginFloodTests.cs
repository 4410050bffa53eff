using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Security;
using Cohort.Transport.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Cohort.Integration.Tests.Security;

/// <summary>
/// A flood of password logins (600,000 PBKDF2 iterations each) cannot take the server's threads: every attempt counts
/// against its address before its derivation, and a server-wide bound refuses logins past it at once.
/// </summary>
public sealed partial class LoginFloodTests
{
    private const string Password = "correct horse battery staple";

    [Fact]
    public async Task A_burst_of_wrong_passwords_from_one_address_runs_at_most_the_limits_derivations()
    {
        // A queue long enough for the whole burst: only the per-address limit stands between it and 60 derivations.
        await using var server = await TestServer.StartAsync(configure: o => o with { FailedAuthenticationsPerMinute = 5, PasswordChecksAtOnce = 1, PasswordChecksQueued = 200 });
        await server.Control.AddUserAsync("alice", "operator", Password, default);
        var checks = server.Host.Services.GetRequiredService<PasswordChecks>();
        using var channel = Channel(server, from: null);
        var api = new Control.ControlClient(channel);

        // 60: under the call gate's 64 calls of one caller arriving at once, which a slow machine would otherwise reach first.
        var refusals = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => LoginRefusalAsync(api, "alice", Password + "!")));

        Assert.Equal(5, checks.Derivations);
        Assert.Equal(5, refusals.Count(r => r.StatusCode == StatusCode.Unauthenticated));
        var limited = refusals.Where(r => r.StatusCode != StatusCode.Unauthenticated).ToArray();
        Assert.Equal(55, limited.Length);
        // Refused by the service's reservation or, once the limit is reached, by the call gate: both say why.
        Assert.All(limited, r =>
        {
            Assert.Equal(StatusCode.ResourceExhausted, r.StatusCode);
            Assert.Matches("^too many failed (logins|authentications) from 127\\.0\\.0\\.1; wait a minute$", r.Status.Detail);
        });

        // The right password waits out the minute at this address, and works at once from another one.
        Assert.Equal(StatusCode.ResourceExhausted, (await LoginRefusalAsync(api, "alice", Password)).StatusCode);
        Assert.Equal(5, checks.Derivations);
        using var elsewhere = Channel(server, from: IPAddress.Parse("127.0.0.2"));
        var reply = await new Control.ControlClient(elsewhere).LoginAsync(new LoginRequest { User = "alice", Password = Password });
        Assert.Equal("operator", reply.Role);
    }

    [Fact]
    public async Task Logins_past_the_server_wide_bound_are_refused_at_once_on_the_control_api_and_the_dashboard()
    {
        await using var server = await TestServer.StartAsync(configure: o => o with { FailedAuthenticationsPerMinute = 1000, PasswordChecksAtOnce = 1, PasswordChecksQueued = 1 });
        await server.Control.AddUserAsync("alice", "operator", Password, default);
        var checks = server.Host.Services.GetRequiredService<PasswordChecks>();
        using var channel = Channel(server, from: null);
        var api = new Control.ControlClient(channel);
        // Each browser loads the form first (its anti-forgery token), so only the posts race.
        var browsers = new List<(HttpClient Client, string Csrf)>();
        for (int i = 0; i < 20; i++)
        {
            var browser = Browser(server);
            browsers.Add((browser, FormToken().Match(await browser.GetStringAsync("/login")).Groups[1].Value));
        }

        var grpc = Enumerable.Range(0, 30).Select(_ => LoginRefusalAsync(api, "alice", Password + "!")).ToArray();
        var forms = browsers.Select(b => b.Client.PostAsync("/login", new FormUrlEncodedContent([new("user", "alice"), new("password", Password + "!"), new("next", "/"), new("csrf", b.Csrf)]))).ToArray();
        var refusals = await Task.WhenAll(grpc);
        var pages = await Task.WhenAll(forms);

        Assert.Equal(1, checks.Peak);
        var busy = refusals.Where(r => r.StatusCode != StatusCode.Unauthenticated).ToArray();
        Assert.All(busy, r => Assert.Equal((StatusCode.ResourceExhausted, PasswordChecks.BusyMessage), (r.StatusCode, r.Status.Detail)));
        var busyPages = pages.Where(p => p.StatusCode != HttpStatusCode.Unauthorized).ToArray();
        foreach (var page in busyPages)
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, page.StatusCode);
            Assert.Contains(PasswordChecks.BusyMessage, await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        // 50 logins at once with room for 2: most are refused, and every one not refused was checked.
        Assert.True(busy.Length + busyPages.Length >= 10, $"{busy.Length} + {busyPages.Length} refused as busy");
        Assert.Equal(50 - busy.Length - busyPages.Length, checks.Derivations);

        // Refusals for load cost the address nothing, and the bound frees up: the right password works now.
        Assert.Equal("operator", (await api.LoginAsync(new LoginRequest { User = "alice", Password = Password })).Role);
        foreach (var (browser, _) in browsers) browser.Dispose();
    }

    [Fact]
    public async Task Successful_logins_give_their_count_back_so_valid_users_behind_one_address_are_not_locked_out()
    {
        await using var server = await TestServer.StartAsync(configure: o => o with { FailedAuthenticationsPerMinute = 2 });
        await server.Control.AddUserAsync("alice", "operator", Password, default);
        using var channel = Channel(server, from: null);
        var api = new Control.ControlClient(channel);
        for (int i = 0; i < 4; i++) Assert.Equal("operator", (await api.LoginAsync(new LoginRequest { User = "alice", Password = Password })).Role);
        // The limit is still whole: two wrong passwords are checked, the third is refused.
        Assert.Equal(StatusCode.Unauthenticated, (await LoginRefusalAsync(api, "alice", "wrong")).StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await LoginRefusalAsync(api, "alice", "wrong")).StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, (await LoginRefusalAsync(api, "alice", "wrong")).StatusCode);
    }

    private static async Task<RpcException> LoginRefusalAsync(Control.ControlClient api, string user, string password) =>
        await Assert.ThrowsAsync<RpcException>(async () => await api.LoginAsync(new LoginRequest { User = user, Password = password }));

    /// <summary>A Control API channel without a token, its connections made from <paramref name="from"/> (another loopback address) when given.</summary>
    private static GrpcChannel Channel(TestServer server, IPAddress? from) =>
        GrpcChannel.ForAddress(server.Host.Address, new GrpcChannelOptions { HttpHandler = Handler(from) });

    private static HttpClient Browser(TestServer server) => new(Handler(null)) { BaseAddress = server.Host.DashboardAddress };

    private static SocketsHttpHandler Handler(IPAddress? from) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = true,
        CookieContainer = new CookieContainer(),
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                if (from is not null) socket.Bind(new IPEndPoint(from, 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();
}
