using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Security;

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

    [Fact]
    public async Task A_login_body_past_64_KiB_is_refused_with_413_before_it_is_read_into_memory()
    {
        await using var server = await ServerProcess.StartAsync("--insecure");
        // Warm up first (the first requests compile the login path), so what grows after is the body's doing.
        using (var client = Client(server))
            Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/login", new FormUrlEncodedContent([new("token", "x")]))).StatusCode);
        long before = server.ResidentBytes();
        long peak = before;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, server.ResidentBytes());
                await Task.Delay(5);
            }
        });

        // 32 fields of 1 MiB each (every one under the form reader's 4 MiB value limit): held as strings, 64 MiB of memory.
        var field = new string('A', 1 << 20);
        int length = Enumerable.Range(0, BigFields).Sum(i => $"f{i}=".Length + field.Length + 1) - 1;
        string sized = await SendRawAsync(server.DashboardAddress!,
            $"POST /login HTTP/1.1\r\nHost: {server.DashboardAddress!.Authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n",
            stream => WriteFieldsAsync(stream, field, chunked: false));
        // Without a length (chunked) the body is stopped at the limit while it is read.
        string chunked = await SendRawAsync(server.DashboardAddress!,
            $"POST /login HTTP/1.1\r\nHost: {server.DashboardAddress!.Authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
            stream => WriteFieldsAsync(stream, field, chunked: true));
        await sampling.CancelAsync();
        await sampler;

        Assert.StartsWith("HTTP/1.1 413", sized, StringComparison.Ordinal);
        Assert.Contains("request body too large", sized, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 413", chunked, StringComparison.Ordinal);
        long grown = peak - before;
        Assert.True(grown < 16 << 20, $"server memory grew by {grown >> 20} MiB for two {BigFields} MiB bodies");
        // The dashboard still answers, and a login with its form works.
        using var after = Client(server);
        Assert.Equal(HttpStatusCode.Redirect, (await LogInAsync(after, server.AdminToken, "/")).StatusCode);
    }

    [Fact]
    public async Task A_multipart_login_with_a_large_file_part_leaves_no_temporary_file()
    {
        // Where ASP.NET Core buffers a form's large parts (ASPNETCORE_TEMP, else the system's temporary folder).
        string temp = Path.Combine(Path.GetTempPath(), "cohort-tmp-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(temp);
        try
        {
            string dataDir = Path.Combine(Path.GetTempPath(), "cohort-srv-" + Guid.NewGuid().ToString("N")[..8]);
            await using var server = await ServerProcess.StartInAsync(dataDir, 0, new Dictionary<string, string> { ["ASPNETCORE_TEMP"] = temp }, "--insecure");
            const string boundary = "XBOUNDARYX";
            byte[] head = Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
            byte[] tail = Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n");
            const int partBytes = 20 << 20;
            var seen = new List<string>();
            string answer = await SendRawAsync(server.DashboardAddress!,
                $"POST /login HTTP/1.1\r\nHost: {server.DashboardAddress!.Authority}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {head.Length + partBytes + tail.Length}\r\n\r\n",
                async stream =>
                {
                    await stream.WriteAsync(head);
                    var chunk = new byte[1 << 20];
                    Array.Fill(chunk, (byte)'Z');
                    for (int i = 0; i < partBytes / chunk.Length; i++) await stream.WriteAsync(chunk);
                    // Held open before the last boundary, as a slow client would: a part the server buffers to disk is there now.
                    var until = DateTime.UtcNow + TimeSpan.FromSeconds(2);
                    while (DateTime.UtcNow < until && seen.Count == 0)
                    {
                        seen.AddRange(Directory.GetFiles(temp, "*", SearchOption.AllDirectories));
                        await Task.Delay(50);
                    }
                    await stream.WriteAsync(tail);
                });
            Assert.StartsWith("HTTP/1.1 413", answer, StringComparison.Ordinal);
            Assert.Empty(seen);
            Assert.Empty(Directory.GetFiles(temp, "*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    [Fact]
    public async Task The_new_run_form_takes_a_plan_of_the_largest_size_other_forms_do_not()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = Client(server);
        Assert.Equal(HttpStatusCode.Redirect, (await LogInAsync(client, server.AdminToken, "/")).StatusCode);
        string token = FormToken().Match(await client.GetStringAsync("/runs/new")).Groups[1].Value;
        // Just under 1 MiB of plan: it reaches the parser, which refuses it for what it says, not for its size.
        string plan = "name: big\n# " + new string('x', PlanLimits.MaxPlanBytes - 100) + "\nrounds: zero\n";
        using var multipart = new MultipartFormDataContent { { new StringContent(token), "csrf" }, { new StringContent(plan), "plan" } };
        var submitted = await client.PostAsync("/runs", multipart);
        Assert.Equal(HttpStatusCode.BadRequest, submitted.StatusCode);
        Assert.Contains("submit-error", await submitted.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The same body to a button's form is refused before it is read.
        var stop = await client.PostAsync("/runs/no-such-run/stop", new FormUrlEncodedContent([new("csrf", token), new("pad", plan)]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, stop.StatusCode);
    }

    [Fact]
    public async Task One_credential_keeps_only_its_newest_sessions()
    {
        await using var server = await ServerProcess.StartAsync();
        var cookies = new List<CookieContainer>();
        for (int i = 0; i < DashboardSessions.MaxPerIdentity + 4; i++)
        {
            var jar = new CookieContainer();
            using var client = Client(server, jar);
            Assert.Equal(HttpStatusCode.Redirect, (await LogInAsync(client, server.AdminToken, "/")).StatusCode);
            cookies.Add(jar);
        }
        var statuses = new List<HttpStatusCode>();
        foreach (var jar in cookies)
        {
            using var client = Client(server, jar);
            statuses.Add((await client.GetAsync("/runs")).StatusCode);
        }
        // The four oldest logins ended; the newest sixteen still work.
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Unauthorized, 4).Concat(Enumerable.Repeat(HttpStatusCode.OK, DashboardSessions.MaxPerIdentity)), statuses);
        string stored = await File.ReadAllTextAsync(DashboardSessions.FileIn(server.DataDir));
        Assert.Equal(DashboardSessions.MaxPerIdentity, Regex.Count(stored, "\"Hash\""));
    }

    private const int BigFields = 32;

    private static async Task WriteFieldsAsync(Stream stream, string field, bool chunked)
    {
        byte[] value = Encoding.ASCII.GetBytes(field);
        for (int i = 0; i < BigFields; i++)
        {
            byte[] name = Encoding.ASCII.GetBytes((i > 0 ? "&" : "") + $"f{i}=");
            if (chunked) await stream.WriteAsync(Encoding.ASCII.GetBytes((name.Length + value.Length).ToString("x", CultureInfo.InvariantCulture) + "\r\n"));
            await stream.WriteAsync(name);
            await stream.WriteAsync(value);
            if (chunked) await stream.WriteAsync("\r\n"u8.ToArray());
        }
        if (chunked) await stream.WriteAsync("0\r\n\r\n"u8.ToArray());
    }

    /// <summary>
    /// Sends a request by hand over plain HTTP/1.1 (headers, then a body the server may stop reading) and returns the
    /// answer's head and body, read while the body is still being sent.
    /// </summary>
    private static async Task<string> SendRawAsync(Uri address, string headers, Func<Stream, Task> writeBody)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        var answer = ReadAnswerAsync(stream);
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(headers));
            await writeBody(stream);
        }
        catch (IOException)
        {
            // The server answered and closed the connection before the body was through.
        }
        return await answer.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task<string> ReadAnswerAsync(Stream stream)
    {
        var received = new StringBuilder();
        var buffer = new byte[8192];
        while (true)
        {
            int n;
            try
            {
                n = await stream.ReadAsync(buffer);
            }
            catch (IOException)
            {
                n = 0;
            }
            if (n == 0) return received.ToString();
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
            string text = received.ToString();
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            var length = ContentLength().Match(text);
            if (end < 0) continue;
            if (length.Success ? text.Length - end - 4 >= int.Parse(length.Groups[1].Value, CultureInfo.InvariantCulture) : text.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal)) return text;
        }
    }

    [GeneratedRegex("(?i)content-length: *([0-9]+)")]
    private static partial Regex ContentLength();

    private static HttpClient Client(ServerProcess server, CookieContainer? cookies = null) => new(new HttpClientHandler
    {
        AllowAutoRedirect = false,
        UseCookies = true,
        CookieContainer = cookies ?? new CookieContainer(),
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
